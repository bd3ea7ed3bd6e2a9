import HTTPTransportCore
import OTLPProto
import Testing
@testable import OTLPExporter

/// Tiny protobuf writer for building test inputs (status details, export responses).
enum ProtoBytes {
    static func varint(_ value: UInt64) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }
    static func field(_ number: UInt64, varint value: UInt64) -> [UInt8] { varint(number << 3) + varint(value) }
    static func field(_ number: UInt64, bytes: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes
    }
    static func field(_ number: UInt64, string: String) -> [UInt8] { field(number, bytes: Array(string.utf8)) }

    /// google.rpc.Status{code, message, details: [Any(RetryInfo{retry_delay})]}.
    static func statusWithRetryInfo(code: Int, seconds: Int64, nanos: Int32 = 0) -> [UInt8] {
        let duration = field(1, varint: UInt64(bitPattern: seconds)) + field(2, varint: UInt64(UInt32(bitPattern: nanos)))
        let retryInfo = field(1, bytes: duration)
        let any = field(1, string: "type.googleapis.com/google.rpc.RetryInfo") + field(2, bytes: retryInfo)
        return field(1, varint: UInt64(code)) + field(2, string: "slow down") + field(3, bytes: any)
    }

    static func statusWithOtherDetail(code: Int) -> [UInt8] {
        let any = field(1, string: "type.googleapis.com/google.rpc.DebugInfo") + field(2, bytes: field(2, string: "x"))
        return field(1, varint: UInt64(code)) + field(3, bytes: any)
    }

    static func exportResponse(rejected: Int64, message: String) -> [UInt8] {
        field(1, bytes: field(1, varint: UInt64(bitPattern: rejected)) + field(2, string: message))
    }
}

@Suite struct RetryClassificationTests {
    @Test func retriesExactlyTheSpecRetryableGRPCCodes() {
        for code in GRPCStatusCode.allCases where code != .ok {
            let outcome = OTLPRetryRules.classify(.success(GRPCResponse(code: code)))
            let expectRetry: Bool = switch code {
            case .cancelled, .deadlineExceeded, .aborted, .outOfRange, .unavailable, .dataLoss: true
            default: false
            }
            if case .retryable = outcome { #expect(expectRetry, "\(code) must not be retried") }
            else { #expect(!expectRetry, "\(code) must be retried") }
        }
    }

    @Test func resourceExhaustedIsRetriedOnlyWithRetryInfo() {
        let without = OTLPRetryRules.classify(.success(GRPCResponse(code: .resourceExhausted)))
        guard case .permanent = without else { Issue.record("retried without RetryInfo: \(without)"); return }
        let otherDetail = OTLPRetryRules.classify(.success(GRPCResponse(
            code: .resourceExhausted, statusDetails: ProtoBytes.statusWithOtherDetail(code: 8))))
        guard case .permanent = otherDetail else { Issue.record("retried with a non-RetryInfo detail"); return }
        let with = OTLPRetryRules.classify(.success(GRPCResponse(
            code: .resourceExhausted, statusDetails: ProtoBytes.statusWithRetryInfo(code: 8, seconds: 7, nanos: 500_000_000))))
        #expect(with == .retryable(reason: "gRPC status RESOURCE_EXHAUSTED", minimumDelay: .milliseconds(7500)))
    }

    @Test func unavailableCarriesRetryInfoDelay() {
        let outcome = OTLPRetryRules.classify(.success(GRPCResponse(
            code: .unavailable, message: "down", statusDetails: ProtoBytes.statusWithRetryInfo(code: 14, seconds: 2))))
        #expect(outcome == .retryable(reason: "gRPC status UNAVAILABLE: down", minimumDelay: .seconds(2)))
    }

    @Test func malformedStatusDetailsAreIgnoredNotFatal() {
        let outcome = OTLPRetryRules.classify(.success(GRPCResponse(
            code: .resourceExhausted, statusDetails: [0x1A, 0xFF, 0xFF, 0x01])))
        guard case .permanent = outcome else { Issue.record("malformed details gave \(outcome)"); return }
        for length in 0..<40 {
            let bytes = Array(ProtoBytes.statusWithRetryInfo(code: 8, seconds: 3).prefix(length))
            _ = RetryInfoDecoder.retryDelay(statusDetails: bytes)
        }
    }

    @Test func partialSuccessOfEverySignalsResponseIsDecodedByTheOneDecoder() {
        var metrics = CollectorMetricsV1ExportMetricsServiceResponse()
        metrics.partialSuccess = CollectorMetricsV1ExportMetricsPartialSuccess(rejectedDataPoints: 4, errorMessage: "bad points")
        var logs = CollectorLogsV1ExportLogsServiceResponse()
        logs.partialSuccess = CollectorLogsV1ExportLogsPartialSuccess(rejectedLogRecords: -1, errorMessage: "")
        var traces = CollectorTraceV1ExportTraceServiceResponse()
        traces.partialSuccess = CollectorTraceV1ExportTracePartialSuccess(rejectedSpans: 0, errorMessage: "warning only")
        #expect(OTLPPartialSuccess.decode(exportResponse: metrics.serializedBytes()) == OTLPPartialSuccess(rejectedItems: 4, errorMessage: "bad points"))
        #expect(OTLPPartialSuccess.decode(exportResponse: logs.serializedBytes()) == OTLPPartialSuccess(rejectedItems: -1, errorMessage: ""))
        #expect(OTLPPartialSuccess.decode(exportResponse: traces.serializedBytes()) == OTLPPartialSuccess(rejectedItems: 0, errorMessage: "warning only"))
        #expect(OTLPPartialSuccess.decode(exportResponse: [0x0A, 0x05, 0x08]) == nil)  // truncated: treated as success
    }

    @Test func retryInfoDelayKeepsNanosAndClampsANegativeDelayToZero() {
        #expect(RetryInfoDecoder.retryDelay(statusDetails: ProtoBytes.statusWithRetryInfo(code: 14, seconds: 1, nanos: 250_000_000))
                == .milliseconds(1250))
        #expect(RetryInfoDecoder.retryDelay(statusDetails: ProtoBytes.statusWithRetryInfo(code: 14, seconds: -3)) == .zero)
        #expect(RetryInfoDecoder.retryDelay(statusDetails: ProtoBytes.statusWithOtherDetail(code: 8)) == nil)
    }

    @Test func okWithPartialSuccessIsDecoded() {
        let outcome = OTLPRetryRules.classify(.success(GRPCResponse(
            code: .ok, payload: ProtoBytes.exportResponse(rejected: 3, message: "bad spans"))))
        #expect(outcome == .success(partialSuccess: OTLPPartialSuccess(rejectedItems: 3, errorMessage: "bad spans")))
        #expect(OTLPRetryRules.classify(.success(GRPCResponse(code: .ok))) == .success(partialSuccess: nil))
        #expect(OTLPPartialSuccess.decode(exportResponse: ProtoBytes.field(1, bytes: [])) == nil)
    }

    @Test func connectionFailuresAreRetriedConfigurationErrorsAreNot() {
        let lost = OTLPRetryRules.classify(.failure(TransportError(.connectionClosed, "lost")))
        guard case .retryable = lost else { Issue.record("connection loss not retried"); return }
        let refused = OTLPRetryRules.classify(.failure(TransportError(.connectFailed, "refused")))
        guard case .retryable = refused else { Issue.record("connection refused not retried"); return }
        let cert = OTLPRetryRules.classify(.failure(TransportError(.certificateVerificationFailed, "bad cert")))
        guard case .permanent = cert else { Issue.record("certificate failure retried"); return }
    }

    /// RST_STREAM codes as gRPC maps them: REFUSED_STREAM (the transport's `goAway`) and CANCEL
    /// are retried at the policy's pace, ENHANCE_YOUR_CALM after at least the calm-down delay,
    /// INTERNAL_ERROR and NO_ERROR before a complete response not at all.
    @Test func streamResetsAreRetriedAsGRPCMapsTheirCodes() {
        func outcome(_ code: TransportError.Code, _ http2: UInt32, retryable: Bool) -> OTLPAttemptOutcome {
            OTLPRetryRules.classify(.failure(TransportError(code, "reset", isRetryable: retryable, http2ErrorCode: http2)))
        }
        #expect(outcome(.goAway, 0x7, retryable: true) == .retryable(reason: "goAway (retryable): reset", minimumDelay: nil))
        #expect(outcome(.streamReset, 0x8, retryable: true) == .retryable(reason: "streamReset (retryable): reset", minimumDelay: nil))
        #expect(outcome(.streamReset, 0xB, retryable: true)
                == .retryable(reason: "streamReset (retryable): reset", minimumDelay: OTLPRetryRules.enhanceYourCalmMinimumDelay))
        guard case .permanent = outcome(.streamReset, 0x2, retryable: false) else { Issue.record("INTERNAL_ERROR retried"); return }
        guard case .permanent = outcome(.streamReset, 0x0, retryable: false) else { Issue.record("NO_ERROR retried"); return }
    }

    @Test func enhanceYourCalmWaitsAtLeastTheCalmDownDelayEvenWithShortBackoffs() async {
        let clock = OTLPVirtualClock()
        let quick = OTLPRetryPolicy(initialBackoff: .milliseconds(100), maxBackoff: .seconds(1), maxElapsedTime: .seconds(60))
        let loop = OTLPRetryLoop(policy: quick, clock: clock, random: OTLPFixedRandom(0.5))
        let calm = TransportError(.streamReset, "stream reset: ENHANCE_YOUR_CALM", isRetryable: true, http2ErrorCode: 0xB)
        let result = await loop.run { attempt in
            attempt == 1 ? OTLPRetryRules.classify(transportError: calm) : .success(partialSuccess: nil)
        }
        #expect(result.isDelivered)
        #expect(clock.sleeps == [OTLPRetryRules.enhanceYourCalmMinimumDelay])
    }

    @Test func httpRetriesOnly429And502To504() {
        for status in [400, 401, 403, 404, 413, 500, 501, 505] {
            guard case .permanent = OTLPRetryRules.classify(httpStatus: status, retryAfter: nil, now: 0, body: "") else {
                Issue.record("\(status) retried"); continue
            }
        }
        for status in [429, 502, 503, 504] {
            guard case .retryable = OTLPRetryRules.classify(httpStatus: status, retryAfter: nil, now: 0, body: "") else {
                Issue.record("\(status) not retried"); continue
            }
        }
    }

    @Test func retryAfterSecondsAndHTTPDates() {
        #expect(RetryAfter.delay(parsing: "120", now: 0) == .seconds(120))
        #expect(RetryAfter.delay(parsing: " 0 ", now: 0) == .zero)
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        let date = 784_111_777.0
        #expect(RetryAfter.httpDate(parsing: "Sun, 06 Nov 1994 08:49:37 GMT") == date)
        #expect(RetryAfter.httpDate(parsing: "Sunday, 06-Nov-94 08:49:37 GMT") == date)
        #expect(RetryAfter.httpDate(parsing: "Sun Nov  6 08:49:37 1994") == date)
        #expect(RetryAfter.delay(parsing: "Sun, 06 Nov 1994 08:49:37 GMT", now: date - 30) == .seconds(30))
        #expect(RetryAfter.delay(parsing: "Sun, 06 Nov 1994 08:49:37 GMT", now: date + 30) == .zero)
        #expect(RetryAfter.delay(parsing: "soon", now: 0) == nil)
        #expect(RetryAfter.delay(parsing: "Sun, 32 Nov 1994 08:49:37 GMT", now: 0) == nil)
        #expect(RetryAfter.delay(parsing: "99999999999999999999", now: 0) == .seconds(86_400))
        let outcome = OTLPRetryRules.classify(httpStatus: 429, retryAfter: "3", now: 0, body: "")
        #expect(outcome == .retryable(reason: "HTTP status 429", minimumDelay: .seconds(3)))
    }
}

@Suite struct RetryLoopTests {
    let policy = OTLPRetryPolicy(initialBackoff: .seconds(5), maxBackoff: .seconds(30), multiplier: 1.5,
                                 jitter: 0.5, maxElapsedTime: .seconds(300))

    @Test func backsOffExponentiallyUntilSuccess() async {
        let clock = OTLPVirtualClock()
        // unitRandom 0.5 → factor exactly 1 (no jitter).
        let loop = OTLPRetryLoop(policy: policy, clock: clock, random: OTLPFixedRandom(0.5))
        let result = await loop.run { attempt in
            attempt <= 4 ? .retryable(reason: "UNAVAILABLE", minimumDelay: nil) : .success(partialSuccess: nil)
        }
        #expect(result == .delivered(partialSuccess: nil, attempts: 5))
        #expect(clock.sleeps == [.seconds(5), .milliseconds(7500), .milliseconds(11250), .milliseconds(16875)])
    }

    @Test func jitterStaysWithinBounds() async {
        for (unit, expected) in [(0.0, 2.5), (0.999999, 7.5)] {
            let clock = OTLPVirtualClock()
            let loop = OTLPRetryLoop(policy: policy, clock: clock, random: OTLPFixedRandom(unit))
            _ = await loop.run { $0 == 1 ? .retryable(reason: "x", minimumDelay: nil) : .success(partialSuccess: nil) }
            #expect(abs(clock.sleeps[0].seconds - expected) < 0.001, "slept \(clock.sleeps[0]) for unit \(unit)")
        }
    }

    @Test func waitsTheLongerOfBackoffAndServerDelay() async {
        let clock = OTLPVirtualClock()
        let loop = OTLPRetryLoop(policy: policy, clock: clock, random: OTLPFixedRandom(0.5))
        let result = await loop.run { attempt in
            switch attempt {
            case 1: .retryable(reason: "throttled", minimumDelay: .seconds(12))  // longer than 5 s backoff
            case 2: .retryable(reason: "throttled", minimumDelay: .seconds(1))   // shorter than 7.5 s backoff
            default: .success(partialSuccess: nil)
            }
        }
        #expect(result.isDelivered)
        #expect(clock.sleeps == [.seconds(12), .milliseconds(7500)])
    }

    @Test func givesUpBeforeMaxElapsedTime() async {
        let clock = OTLPVirtualClock()
        let loop = OTLPRetryLoop(policy: policy, clock: clock, random: OTLPFixedRandom(0.5))
        let result = await loop.run { _ in
            clock.advance(by: .seconds(1))  // each attempt takes 1 s
            return .retryable(reason: "UNAVAILABLE", minimumDelay: nil)
        }
        guard case .gaveUp(_, let attempts) = result else { Issue.record("did not give up: \(result)"); return }
        let total = clock.now()
        #expect(total <= .seconds(300))
        // 5 + 7.5 + 11.25 + 16.875 + 25.3 + 30·n ... : attempts must be more than a handful.
        #expect(attempts >= 8 && attempts <= 15)
        #expect(clock.sleeps.allSatisfy { $0 <= .seconds(30) })
    }

    @Test func permanentFailureIsNotRetried() async {
        let clock = OTLPVirtualClock()
        let loop = OTLPRetryLoop(policy: policy, clock: clock, random: OTLPFixedRandom(0.5))
        let result = await loop.run { _ in .permanent(reason: "INVALID_ARGUMENT") }
        #expect(result == .rejected(reason: "INVALID_ARGUMENT", attempts: 1))
        #expect(clock.sleeps.isEmpty)
    }

    @Test func disabledPolicyNeverRetries() async {
        let clock = OTLPVirtualClock()
        let loop = OTLPRetryLoop(policy: .disabled, clock: clock, random: OTLPFixedRandom(0.5))
        let result = await loop.run { _ in .retryable(reason: "UNAVAILABLE", minimumDelay: nil) }
        guard case .gaveUp(_, 1) = result else { Issue.record("\(result)"); return }
    }

    @Test func serverDelayBeyondBudgetGivesUpWithoutWaiting() async {
        let clock = OTLPVirtualClock()
        let loop = OTLPRetryLoop(policy: policy, clock: clock, random: OTLPFixedRandom(0.5))
        let result = await loop.run { _ in .retryable(reason: "429", minimumDelay: .seconds(3600)) }
        guard case .gaveUp(_, 1) = result else { Issue.record("\(result)"); return }
        #expect(clock.sleeps.isEmpty)
    }
}
