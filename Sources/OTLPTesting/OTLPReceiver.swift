// The OTLP receiver logic: a request in, a decoded payload and the answer out. Pure (no
// sockets, no state), so every status path is tested directly.
import HTTP2Transport
import HTTPTransportCore
import OTLPProto

extension OTLPTestCollector {
    /// A scripted answer for one export request, in place of the normal one.
    ///
    /// Status faults are given in gRPC terms and in HTTP terms; each is translated for the
    /// other protocol (gRPC UNAVAILABLE ↔ HTTP 503, RESOURCE_EXHAUSTED ↔ 429, ...).
    public enum Fault: Sendable, Hashable {
        /// Answer with this gRPC status (OTLP/HTTP: the matching HTTP status and a
        /// `google.rpc.Status` body). `retryDelay` adds a `google.rpc.RetryInfo` to
        /// `grpc-status-details-bin` (OTLP/HTTP: `Retry-After` in whole seconds, rounded up).
        case grpcStatus(GRPCStatusCode, message: String = "", retryDelay: Duration? = nil)
        /// Answer with this HTTP status (gRPC: the code the gRPC spec maps it to), with
        /// `Retry-After` (gRPC: RetryInfo) when given.
        case httpStatus(Int, retryAfter: Duration? = nil)
        /// Answer normally (the request is accepted) after this delay.
        case delay(Duration)
        /// Accept the request and answer with a partial success: `rejected` items, `message`.
        case partialSuccess(rejected: Int64, message: String)
        /// Close the connection without answering (the request is not accepted).
        case closeConnection
        /// HTTP/2: GOAWAY marking the request as not processed, then close; HTTP/1.1: close.
        case goAway
    }
}

/// The outcome of one request.
struct OTLPReceiverOutcome {
    var response: HTTPServerResponse
    /// The decoded request when it is accepted (stored and counted).
    var accepted: OTLPTestCollector.ReceivedRequest?
    /// Items of an accepted request that was validated and counted without being decoded
    /// (a binary body when the collector keeps counts only); `accepted` is then `nil`.
    var countedItems: Int? = nil
    /// Whether this was an export request at all (a known path) for `requests` counting.
    var signal: OTLPTestCollector.Signal?
    /// Answered with an error.
    var rejected: Bool
}

enum OTLPReceiver {
    typealias Signal = OTLPTestCollector.Signal
    typealias Fault = OTLPTestCollector.Fault

    static func signal(forGRPCPath path: String) -> Signal? {
        Signal.allCases.first { $0.grpcPath == path }
    }

    static func signal(forHTTPPath path: String) -> Signal? {
        let withoutQuery = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
        return Signal.allCases.first { $0.httpPath == withoutQuery }
    }

    /// Whether the request is for the gRPC side (a path under one of the collector services, any
    /// method, or a gRPC content type).
    static func isGRPC(_ request: HTTPServerRequest) -> Bool {
        if Signal.allCases.contains(where: { request.path.hasPrefix("/\($0.grpcServiceName)/") }) { return true }
        return request.value("content-type")?.hasPrefix("application/grpc") ?? false
    }

    /// The fault queue's filter: the signal a request is for, if it is an export request.
    static func signal(of request: HTTPServerRequest) -> Signal? {
        isGRPC(request) ? signal(forGRPCPath: request.path) : signal(forHTTPPath: request.path)
    }

    /// Answers `request`. With `countsOnly`, a binary body is validated and its items counted
    /// without building messages (`countedItems`); JSON bodies are decoded either way.
    static func handle(_ request: HTTPServerRequest, fault: Fault?, maxMessageBytes: Int, countsOnly: Bool = false) -> OTLPReceiverOutcome {
        isGRPC(request) ? handleGRPC(request, fault: fault, maxMessageBytes: maxMessageBytes, countsOnly: countsOnly)
                        : handleHTTP(request, fault: fault, maxMessageBytes: maxMessageBytes, countsOnly: countsOnly)
    }

    // MARK: gRPC

    static func grpcError(_ code: GRPCStatusCode, _ message: String, details: [UInt8]? = nil) -> HTTPServerResponse {
        var trailers = [HTTPField("grpc-status", String(code.rawValue))]
        if !message.isEmpty { trailers.append(HTTPField("grpc-message", percentEncode(message))) }
        if let details { trailers.append(HTTPField("grpc-status-details-bin", base64Encode(details))) }
        return HTTPServerResponse(status: 200, headers: [HTTPField("content-type", "application/grpc")], trailers: trailers)
    }

    static func handleGRPC(_ request: HTTPServerRequest, fault: Fault?, maxMessageBytes: Int, countsOnly: Bool = false) -> OTLPReceiverOutcome {
        func reject(_ response: HTTPServerResponse, _ signal: Signal?) -> OTLPReceiverOutcome {
            OTLPReceiverOutcome(response: response, accepted: nil, signal: signal, rejected: true)
        }
        guard let contentType = request.value("content-type"), contentType.hasPrefix("application/grpc") else {
            // The gRPC spec answers a non-gRPC content type with HTTP 415.
            return reject(HTTPServerResponse(status: 415, headers: [HTTPField("content-type", "text/plain")],
                                             body: Array("content-type must be application/grpc\n".utf8)), nil)
        }
        guard request.method == "POST", let signal = signal(forGRPCPath: request.path) else {
            return reject(grpcError(.unimplemented, "unknown method \(request.path)"), nil)
        }
        if let fault, let response = faultResponse(fault, grpc: true, json: false) {
            return reject(response, signal)
        }
        // Exactly one length-prefixed message.
        let body = request.body
        guard body.count >= 5 else { return reject(grpcError(.internalError, "truncated gRPC message prefix"), signal) }
        let flag = body[0]
        let length = Int(body[1]) << 24 | Int(body[2]) << 16 | Int(body[3]) << 8 | Int(body[4])
        guard length <= maxMessageBytes else {
            return reject(grpcError(.resourceExhausted, "message of \(length) bytes exceeds \(maxMessageBytes)"), signal)
        }
        guard body.count == 5 + length else {
            return reject(grpcError(.internalError, body.count < 5 + length ? "truncated gRPC message" : "more than one message in a unary request"), signal)
        }
        var decompressed: [UInt8]?
        switch flag {
        case 0:
            break
        case 1:
            let encoding = request.value("grpc-encoding") ?? "identity"
            guard encoding == "gzip" else {
                return reject(grpcError(.unimplemented, "grpc-encoding \(encoding) is not supported (gzip is)"), signal)
            }
            do throws(GzipError) {
                decompressed = try Gzip.decompress(Array(body[5...]), limit: maxMessageBytes)
            } catch {
                return reject(grpcError(error.kind == .tooLarge ? .resourceExhausted : .internalError, "\(error)"), signal)
            }
        default:
            return reject(grpcError(.internalError, "invalid gRPC message flag \(flag)"), signal)
        }
        let compressed = decompressed != nil
        var payload: OTLPTestCollector.Payload?
        var countedItems: Int?
        do {
            // Decoded (or validated) in place, after the prefix: no copy of the message.
            try (decompressed ?? body).withUnsafeBytes { raw in
                let message = compressed ? raw : UnsafeRawBufferPointer(rebasing: raw[5...])
                if countsOnly {
                    countedItems = try ItemCounting.validateAndCount(signal, message, options: decodingOptions(maxMessageBytes))
                } else {
                    payload = try decodeBinary(signal, message, maxMessageBytes: maxMessageBytes)
                }
            }
        } catch {
            return reject(grpcError(.invalidArgument, "cannot decode \(signal) request: \(error)"), signal)
        }
        let responseMessage = exportResponse(signal, fault: fault, json: false)
        var framed: [UInt8] = [0, 0, 0, 0, 0]
        let count = UInt32(responseMessage.count)
        framed[1] = UInt8(truncatingIfNeeded: count >> 24)
        framed[2] = UInt8(truncatingIfNeeded: count >> 16)
        framed[3] = UInt8(truncatingIfNeeded: count >> 8)
        framed[4] = UInt8(truncatingIfNeeded: count)
        framed += responseMessage
        let response = HTTPServerResponse(status: 200, headers: [HTTPField("content-type", "application/grpc")], body: framed,
                                          trailers: [HTTPField("grpc-status", "0")], delay: delay(of: fault))
        let received = payload.map {
            OTLPTestCollector.ReceivedRequest(payload: $0, encoding: .grpc, compressed: compressed,
                                              headers: request.headers, connectionID: request.connectionID,
                                              httpProtocol: request.httpProtocol)
        }
        return OTLPReceiverOutcome(response: response, accepted: received, countedItems: countedItems, signal: signal, rejected: false)
    }

    // MARK: OTLP/HTTP

    static func handleHTTP(_ request: HTTPServerRequest, fault: Fault?, maxMessageBytes: Int, countsOnly: Bool = false) -> OTLPReceiverOutcome {
        let json = request.value("content-type").map(mediaType) == "application/json"
        func reject(_ status: Int, _ message: String, _ signal: Signal?) -> OTLPReceiverOutcome {
            OTLPReceiverOutcome(response: httpError(status, message, json: json), accepted: nil, signal: signal, rejected: true)
        }
        guard let signal = signal(forHTTPPath: request.path) else {
            return reject(404, "unknown path \(request.path)", nil)
        }
        guard request.method == "POST" else {
            var outcome = reject(405, "method \(request.method) not allowed", signal)
            outcome.response.headers.append(HTTPField("allow", "POST"))
            return outcome
        }
        let contentType = request.value("content-type").map(mediaType) ?? ""
        guard contentType == "application/x-protobuf" || contentType == "application/json" else {
            return reject(415, "content-type must be application/x-protobuf or application/json", signal)
        }
        if let fault, let response = faultResponse(fault, grpc: false, json: json) {
            return OTLPReceiverOutcome(response: response, accepted: nil, signal: signal, rejected: true)
        }
        var body = request.body
        var compressed = false
        switch (request.value("content-encoding") ?? "identity").lowercased() {
        case "identity", "":
            break
        case "gzip":
            do throws(GzipError) {
                body = try Gzip.decompress(body, limit: maxMessageBytes)
                compressed = true
            } catch {
                return error.kind == .tooLarge ? reject(413, "\(error)", signal) : reject(400, "\(error)", signal)
            }
        case let other:
            return reject(415, "content-encoding \(other) is not supported (gzip is)", signal)
        }
        var payload: OTLPTestCollector.Payload?
        var countedItems: Int?
        do {
            if countsOnly && !json {
                countedItems = try body.withUnsafeBytes { raw in
                    try ItemCounting.validateAndCount(signal, raw, options: decodingOptions(maxMessageBytes))
                }
            } else {
                payload = try decode(signal, body, json: json, maxMessageBytes: maxMessageBytes)
            }
        } catch {
            return reject(400, "cannot decode \(signal) request: \(error)", signal)
        }
        let response = HTTPServerResponse(status: 200, headers: [HTTPField("content-type", json ? "application/json" : "application/x-protobuf")],
                                          body: exportResponse(signal, fault: fault, json: json), delay: delay(of: fault))
        let received = payload.map {
            OTLPTestCollector.ReceivedRequest(payload: $0, encoding: json ? .httpJSON : .httpProtobuf,
                                              compressed: compressed, headers: request.headers,
                                              connectionID: request.connectionID, httpProtocol: request.httpProtocol)
        }
        return OTLPReceiverOutcome(response: response, accepted: received, countedItems: countedItems, signal: signal, rejected: false)
    }

    /// `application/json; charset=utf-8` → `application/json`.
    static func mediaType(_ value: String) -> String {
        let base = value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? value
        return base.trimmingCharacters(in: " \t").lowercased()
    }

    /// An OTLP/HTTP error: the status and a `google.rpc.Status` body in the request's encoding.
    static func httpError(_ status: Int, _ message: String, json: Bool, retryAfter: Duration? = nil) -> HTTPServerResponse {
        let code = grpcCode(forHTTPStatus: status)
        var headers = [HTTPField("content-type", json ? "application/json" : "application/x-protobuf")]
        if let retryAfter { headers.append(HTTPField("retry-after", String(retryAfterSeconds(retryAfter)))) }
        let body = json ? Array("{\"code\":\(code.rawValue),\"message\":\(jsonString(message))}".utf8)
                        : RPCStatus.encode(code: code, message: message, retryDelay: nil)
        return HTTPServerResponse(status: status, headers: headers, body: body)
    }

    // MARK: Faults

    static func delay(of fault: Fault?) -> Duration? {
        if case .delay(let delay) = fault { return delay }
        return nil
    }

    /// The answer for an error fault; nil for faults that accept the request (delay, partial success).
    static func faultResponse(_ fault: Fault, grpc: Bool, json: Bool) -> HTTPServerResponse? {
        switch fault {
        case .delay, .partialSuccess:
            return nil
        case .closeConnection:
            return HTTPServerResponse(status: 500, disposition: .closeConnection)
        case .goAway:
            return HTTPServerResponse(status: 503, disposition: .goAway)
        case .grpcStatus(let code, let message, let retryDelay):
            if grpc {
                let details = retryDelay.map { RPCStatus.encode(code: code, message: message, retryDelay: $0) }
                return grpcError(code, message, details: details)
            }
            return httpError(httpStatus(forGRPCCode: code), message.isEmpty ? "\(code)" : message, json: json, retryAfter: retryDelay)
        case .httpStatus(let status, let retryAfter):
            if grpc {
                let code = GRPCStatusCode.fromHTTPStatus(status)
                let message = "HTTP status \(status)"
                return grpcError(code, message, details: retryAfter.map { RPCStatus.encode(code: code, message: message, retryDelay: $0) })
            }
            return httpError(status, "HTTP status \(status)", json: json, retryAfter: retryAfter)
        }
    }

    static func retryAfterSeconds(_ delay: Duration) -> Int64 {
        let (seconds, attoseconds) = delay.components
        return max(0, seconds + (attoseconds > 0 ? 1 : 0))
    }

    /// The HTTP status an OTLP/HTTP server answers for a gRPC code.
    static func httpStatus(forGRPCCode code: GRPCStatusCode) -> Int {
        switch code {
        case .ok: 200
        case .invalidArgument, .failedPrecondition, .outOfRange: 400
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .notFound, .unimplemented: 404
        case .aborted, .alreadyExists: 409
        case .resourceExhausted: 429
        case .cancelled: 499
        case .unavailable: 503
        case .deadlineExceeded: 504
        default: 500
        }
    }

    static func grpcCode(forHTTPStatus status: Int) -> GRPCStatusCode {
        switch status {
        case 400: .invalidArgument
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .notFound
        case 405, 415, 501: .unimplemented
        case 413: .resourceExhausted
        case 429, 502, 503, 504: .unavailable
        default: .unknown
        }
    }

    // MARK: Codec

    static func decodingOptions(_ maxMessageBytes: Int) -> ProtoDecodingOptions {
        ProtoDecodingOptions(maxMessageSize: max(maxMessageBytes, 1))
    }

    static func decodeBinary(_ signal: Signal, _ bytes: UnsafeRawBufferPointer, maxMessageBytes: Int) throws -> OTLPTestCollector.Payload {
        let options = decodingOptions(maxMessageBytes)
        switch signal {
        case .traces: return .traces(try CollectorTraceV1ExportTraceServiceRequest(serializedBytes: bytes, options: options))
        case .metrics: return .metrics(try CollectorMetricsV1ExportMetricsServiceRequest(serializedBytes: bytes, options: options))
        case .logs: return .logs(try CollectorLogsV1ExportLogsServiceRequest(serializedBytes: bytes, options: options))
        }
    }

    static func decode(_ signal: Signal, _ bytes: [UInt8], json: Bool, maxMessageBytes: Int) throws -> OTLPTestCollector.Payload {
        guard json else {
            return try bytes.withUnsafeBytes { try decodeBinary(signal, $0, maxMessageBytes: maxMessageBytes) }
        }
        let options = decodingOptions(maxMessageBytes)
        switch signal {
        case .traces: return .traces(try CollectorTraceV1ExportTraceServiceRequest(jsonBytes: bytes, options: options))
        case .metrics: return .metrics(try CollectorMetricsV1ExportMetricsServiceRequest(jsonBytes: bytes, options: options))
        case .logs: return .logs(try CollectorLogsV1ExportLogsServiceRequest(jsonBytes: bytes, options: options))
        }
    }

    /// The encoded Export*ServiceResponse, with a partial success when the fault asks for one.
    static func exportResponse(_ signal: Signal, fault: Fault?, json: Bool) -> [UInt8] {
        var rejected: Int64 = 0
        var message = ""
        if case .partialSuccess(let count, let text) = fault {
            rejected = count
            message = text
        }
        let partial = rejected != 0 || !message.isEmpty
        func encoded(_ response: some JSONMessage) -> [UInt8] { json ? response.jsonBytes() : response.serializedBytes() }
        switch signal {
        case .traces:
            return encoded(CollectorTraceV1ExportTraceServiceResponse(partialSuccess: partial
                ? CollectorTraceV1ExportTracePartialSuccess(rejectedSpans: rejected, errorMessage: message) : nil))
        case .metrics:
            return encoded(CollectorMetricsV1ExportMetricsServiceResponse(partialSuccess: partial
                ? CollectorMetricsV1ExportMetricsPartialSuccess(rejectedDataPoints: rejected, errorMessage: message) : nil))
        case .logs:
            return encoded(CollectorLogsV1ExportLogsServiceResponse(partialSuccess: partial
                ? CollectorLogsV1ExportLogsPartialSuccess(rejectedLogRecords: rejected, errorMessage: message) : nil))
        }
    }

    // MARK: Text helpers

    /// `grpc-message` percent-encoding: bytes outside printable ASCII, and `%`.
    static func percentEncode(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                output.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                output += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return output
    }

    static func base64Encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = UInt32(bytes[index])
            let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            output.append(alphabet[Int(triple >> 18 & 63)])
            output.append(alphabet[Int(triple >> 12 & 63)])
            output.append(remaining > 1 ? alphabet[Int(triple >> 6 & 63)] : UInt8(ascii: "="))
            output.append(remaining > 2 ? alphabet[Int(triple & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func jsonString(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output + "\""
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var slice = self[...]
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

/// The `google.rpc.Status` of a scripted error, with a `google.rpc.RetryInfo` detail when the
/// fault gives a retry delay.
enum RPCStatus {
    static let retryInfoTypeURL = "type.googleapis.com/google.rpc.RetryInfo"

    static func encode(code: GRPCStatusCode, message: String, retryDelay: Duration?) -> [UInt8] {
        var status = GoogleRpcStatus(code: Int32(code.rawValue), message: message)
        if let retryDelay {
            let (seconds, attoseconds) = retryDelay.components
            let delay = GoogleProtobufDuration(seconds: seconds, nanos: Int32(attoseconds / 1_000_000_000))
            let info = GoogleRpcRetryInfo(retryDelay: delay)
            status.details.append(GoogleProtobufAny(typeUrl: retryInfoTypeURL, value: info.serializedBytes()))
        }
        return status.serializedBytes()
    }
}
