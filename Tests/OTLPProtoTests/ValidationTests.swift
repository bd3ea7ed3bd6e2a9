import OTLPProto
import OTLPTestSupport
import Testing

/// `validate(serializedBytes:)` accepts exactly what decoding accepts, with the same error codes.
@Suite struct ValidationTests {
    typealias Traces = CollectorTraceV1ExportTraceServiceRequest
    typealias Metrics = CollectorMetricsV1ExportMetricsServiceRequest
    typealias Logs = CollectorLogsV1ExportLogsServiceRequest

    static let tracesJSON = """
        {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
          "scopeSpans":[{"scope":{"name":"s","version":"1"},"spans":[
            {"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607","parentSpanId":"0706050403020100",
             "traceState":"a=b","name":"GET /items","kind":2,"startTimeUnixNano":"1700000000000000000",
             "endTimeUnixNano":"1700000000000500000","flags":1,
             "attributes":[{"key":"k","value":{"stringValue":"v"}},{"key":"n","value":{"intValue":"42"}},
                           {"key":"d","value":{"doubleValue":1.5}},{"key":"b","value":{"boolValue":true}},
                           {"key":"y","value":{"bytesValue":"AAEC"}},
                           {"key":"a","value":{"arrayValue":{"values":[{"stringValue":"x"},{"intValue":"1"}]}}},
                           {"key":"m","value":{"kvlistValue":{"values":[{"key":"i","value":{"stringValue":"j"}}]}}}],
             "events":[{"timeUnixNano":"1700000000000100000","name":"e","attributes":[{"key":"k","value":{"stringValue":"v"}}]}],
             "links":[{"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050608","traceState":"c=d"}],
             "status":{"code":2,"message":"boom"}},
            {"traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050609","name":"second"}]}]},
          {"scopeSpans":[{"spans":[{"name":"third"}]},{"spans":[{"name":"fourth"},{"name":"fifth"}]}]}]}
        """

    static let metricsJSON = """
        {"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
          "scopeMetrics":[{"scope":{"name":"s"},"metrics":[
            {"name":"g","unit":"1","gauge":{"dataPoints":[{"asDouble":1.5,"timeUnixNano":"1"},{"asInt":"2","timeUnixNano":"2"}]}},
            {"name":"c","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
              {"asInt":"7","attributes":[{"key":"k","value":{"stringValue":"v"}}],
               "exemplars":[{"asDouble":1,"timeUnixNano":"3","spanId":"0001020304050607","traceId":"000102030405060708090a0b0c0d0e0f"}]}]}},
            {"name":"h","histogram":{"aggregationTemporality":1,"dataPoints":[
              {"count":"3","sum":6,"min":1,"max":3,"bucketCounts":["1","1","1"],"explicitBounds":[1,2]}]}},
            {"name":"e","exponentialHistogram":{"aggregationTemporality":1,"dataPoints":[
              {"count":"3","scale":2,"zeroCount":"1","positive":{"offset":-1,"bucketCounts":["1","1"]},
               "negative":{"offset":0,"bucketCounts":["0"]}}]}},
            {"name":"q","summary":{"dataPoints":[{"count":"2","sum":3,"quantileValues":[{"quantile":0.5,"value":1}]}]}}]}]}]}
        """

    static let logsJSON = """
        {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
          "scopeLogs":[{"scope":{"name":"s"},"logRecords":[
            {"timeUnixNano":"1","observedTimeUnixNano":"2","severityNumber":9,"severityText":"INFO",
             "body":{"stringValue":"hello"},"attributes":[{"key":"k","value":{"intValue":"1"}}],
             "traceId":"000102030405060708090a0b0c0d0e0f","spanId":"0001020304050607","flags":1,"eventName":"ev"},
            {"body":{"kvlistValue":{"values":[{"key":"a","value":{"boolValue":false}}]}}}]}]}]}
        """

    /// The decoder's verdict: `nil` when it decodes, else the error code.
    static func decodeVerdict<M: ProtoMessage>(_ type: M.Type, _ bytes: [UInt8], _ options: ProtoDecodingOptions = .init()) -> ProtoDecodingError.Code? {
        do { _ = try M(serializedBytes: bytes, options: options); return nil } catch { return error.code }
    }

    static func validateVerdict<M: ProtoValidatable>(_ type: M.Type, _ bytes: [UInt8], _ options: ProtoDecodingOptions = .init()) -> ProtoDecodingError.Code? {
        var failure: ProtoDecodingError?
        bytes.withUnsafeBytes { raw in
            do throws(ProtoDecodingError) { try M.validate(serializedBytes: raw, options: options) } catch { failure = error }
        }
        return failure?.code
    }

    /// Every truncation of `valid` and `mutations` seeded random mutations of it (1-4 bytes
    /// replaced): validation and decoding agree on each. Returns how many were rejected.
    static func agreeOnMutations<M: ProtoMessage & ProtoValidatable>(_ type: M.Type, _ valid: [UInt8], mutations: Int, seed: UInt64) -> (rejected: Int, total: Int) {
        var inputs: [[UInt8]] = (0...valid.count).map { Array(valid.prefix($0)) }
        var generator = SplitMix64(seed: seed)
        for _ in 0..<mutations {
            var mutated = valid
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                mutated[Int(generator.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            inputs.append(mutated)
        }
        var rejected = 0
        for input in inputs {
            let decoded = decodeVerdict(M.self, input)
            let validated = validateVerdict(M.self, input)
            #expect(decoded == validated, "\(M.self) input \(input): decode \(String(describing: decoded)), validate \(String(describing: validated))")
            if decoded != nil { rejected += 1 }
        }
        return (rejected, inputs.count)
    }

    @Test func validEncodingsOfEverySignalAreAccepted() throws {
        for bytes in [try Traces(jsonString: Self.tracesJSON).serializedBytes()] {
            #expect(Self.validateVerdict(Traces.self, bytes) == nil)
        }
        #expect(Self.validateVerdict(Metrics.self, try Metrics(jsonString: Self.metricsJSON).serializedBytes()) == nil)
        #expect(Self.validateVerdict(Logs.self, try Logs(jsonString: Self.logsJSON).serializedBytes()) == nil)
    }

    @Test func truncationsAndMutationsAreJudgedAsTheDecoderJudgesThem() throws {
        let traces = Self.agreeOnMutations(Traces.self, try Traces(jsonString: Self.tracesJSON).serializedBytes(), mutations: 3000, seed: 1)
        let metrics = Self.agreeOnMutations(Metrics.self, try Metrics(jsonString: Self.metricsJSON).serializedBytes(), mutations: 3000, seed: 2)
        let logs = Self.agreeOnMutations(Logs.self, try Logs(jsonString: Self.logsJSON).serializedBytes(), mutations: 3000, seed: 3)
        // Both verdicts occur, so the agreement is not trivial.
        for result in [traces, metrics, logs] { #expect(result.rejected > 0 && result.rejected < result.total) }
    }

    @Test(arguments: 0..<MalformedInputTests.traceCorpus.count)
    func malformedTraceInputGetsTheDecodersErrorCode(index: Int) {
        let (name, bytes, code) = MalformedInputTests.traceCorpus[index]
        #expect(Self.validateVerdict(Traces.self, bytes) == code, "\(name)")
    }

    @Test(arguments: 0..<MalformedInputTests.metricsCorpus.count)
    func malformedMetricsInputGetsTheDecodersErrorCode(index: Int) {
        let (name, bytes, code) = MalformedInputTests.metricsCorpus[index]
        #expect(Self.validateVerdict(Metrics.self, bytes) == code, "\(name)")
    }

    @Test func theDepthAndSizeLimitsAreTheDecoders() {
        let atLimit = MalformedInputTests.deepTraces(levels: 46, kvlist: true)
        let overLimit = MalformedInputTests.deepTraces(levels: 47, kvlist: true)
        #expect(Self.validateVerdict(Traces.self, atLimit) == nil)
        #expect(Self.validateVerdict(Traces.self, overLimit) == .depthLimitExceeded)
        #expect(Self.validateVerdict(Traces.self, atLimit, .init(maxDepth: 50)) == .depthLimitExceeded)
        #expect(Self.validateVerdict(Traces.self, atLimit, .init(maxMessageSize: atLimit.count - 1)) == .sizeLimitExceeded)
        #expect(Self.validateVerdict(Traces.self, atLimit, .init(maxMessageSize: atLimit.count)) == nil)
    }
}
