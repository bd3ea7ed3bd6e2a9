// gRPC unary calls over an HTTPTransport (gRPC over HTTP/2, PROTOCOL-HTTP2.md).

/// A gRPC status code (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
public enum GRPCStatusCode: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case ok = 0, cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists,
         permissionDenied, resourceExhausted, failedPrecondition, aborted, outOfRange, unimplemented,
         internalError, unavailable, dataLoss, unauthenticated

    public var description: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internalError: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }

    /// The code for a non-200 HTTP status, as the gRPC spec's HTTP-to-gRPC mapping says.
    public static func fromHTTPStatus(_ status: Int) -> GRPCStatusCode {
        switch status {
        case 400: .internalError
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .unimplemented
        case 429, 502, 503, 504: .unavailable
        default: .unknown
        }
    }
}

/// Request message compression.
public enum GRPCCompression: Sendable, Hashable {
    /// No compression (`grpc-encoding` not sent).
    case none
    /// gzip (`grpc-encoding: gzip`).
    case gzip
}

/// The outcome of a unary call that reached the server (or was answered by it).
public struct GRPCResponse: Sendable, Hashable {
    /// The gRPC status.
    public var code: GRPCStatusCode
    /// The percent-decoded `grpc-message` (or our own explanation for client-side statuses).
    public var message: String
    /// The response message bytes (decompressed); empty unless `code == .ok`.
    public var payload: [UInt8]
    /// The raw (base64-decoded) `grpc-status-details-bin` trailer: a `google.rpc.Status`
    /// whose details may hold a `RetryInfo`. `nil` when absent.
    public var statusDetails: [UInt8]?
    /// Response headers and trailers as received.
    public var headers: [HTTPField]
    public var trailers: [HTTPField]

    public init(code: GRPCStatusCode, message: String = "", payload: [UInt8] = [], statusDetails: [UInt8]? = nil,
                headers: [HTTPField] = [], trailers: [HTTPField] = []) {
        self.code = code
        self.message = message
        self.payload = payload
        self.statusDetails = statusDetails
        self.headers = headers
        self.trailers = trailers
    }
}

/// gRPC unary calls over an `HTTPTransport` (normally `HTTP2Transport`'s `HTTP2Client`).
///
/// `HTTP2Transport` adds the initializers that use its zlib gzip (`init(transport:)`,
/// `init(configuration:)`); this one takes the gzip implementation as a value.
public final class GRPCClient: Sendable {
    /// The transport under this client.
    public let transport: any HTTPTransport
    /// Largest accepted response message, compressed and after decompression. Default 4 MiB.
    public let maxResponseMessageBytes: Int
    private let userAgent: String
    private let gzip: any GzipCodec

    /// A client on `transport` that compresses requests (when asked) and inflates gzip responses
    /// with `gzip`.
    public init(transport: any HTTPTransport, gzip: any GzipCodec, maxResponseMessageBytes: Int = 4 << 20,
                userAgent: String = "swift-otlp/0.1") {
        self.transport = transport
        self.gzip = gzip
        self.maxResponseMessageBytes = maxResponseMessageBytes
        self.userAgent = "grpc-swift-otlp \(userAgent)"
    }

    /// Makes a unary call. `path` is `/package.Service/Method`; `metadata` are extra headers
    /// (lower-case names, e.g. `authorization`); `timeout` becomes `grpc-timeout` and the
    /// request's deadline. `completion` runs once, on the transport's thread.
    ///
    /// A `.failure` is a transport error (nothing usable came back; see `isRetryable`); any gRPC
    /// status — including ones we derive, such as INTERNAL for a malformed response or
    /// RESOURCE_EXHAUSTED for an oversized one — is a `.success(GRPCResponse)`.
    public func unary(path: String, metadata: [HTTPField] = [], message: [UInt8], timeout: Duration? = nil,
                      compression: GRPCCompression = .none,
                      completion: @escaping @Sendable (Result<GRPCResponse, TransportError>) -> Void) {
        send(path: path, metadata: metadata, timeout: timeout, compression: compression, completion: completion) {
            GRPCFraming.frame(message, compressed: false)
        } compress: { () throws(GzipError) in
            try gzip.compress(message)
        }
    }

    /// ``unary(path:metadata:message:timeout:compression:completion:)`` for a message already in
    /// its frame: sent as it is, without the copy into a new frame (unless it is compressed).
    public func unary(path: String, metadata: [HTTPField] = [], framedMessage: GRPCFramedMessage, timeout: Duration? = nil,
                      compression: GRPCCompression = .none,
                      completion: @escaping @Sendable (Result<GRPCResponse, TransportError>) -> Void) {
        send(path: path, metadata: metadata, timeout: timeout, compression: compression, completion: completion) {
            framedMessage.bytes
        } compress: { () throws(GzipError) in
            try gzip.compress(Array(framedMessage.bytes[GRPCFramedMessage.prefixLength...]))
        }
    }

    /// Headers, optional compression (`compress` gives the compressed message, framed by us),
    /// the request, and the interpretation of the response.
    private func send(path: String, metadata: [HTTPField], timeout: Duration?, compression: GRPCCompression,
                      completion: @escaping @Sendable (Result<GRPCResponse, TransportError>) -> Void,
                      uncompressedBody: () -> [UInt8], compress: () throws(GzipError) -> [UInt8]) {
        var headers: [HTTPField] = [
            HTTPField("content-type", "application/grpc"),
            HTTPField("te", "trailers"),
            HTTPField("user-agent", userAgent),
            HTTPField("grpc-accept-encoding", "gzip,identity"),
        ]
        if let timeout { headers.append(HTTPField("grpc-timeout", GRPCFraming.timeoutHeader(timeout))) }
        let body: [UInt8]
        if compression == .gzip {
            do throws(GzipError) { body = GRPCFraming.frame(try compress(), compressed: true) }
            catch { completion(.failure(TransportError(.internalError, "\(error)", isRetryable: false))); return }
            headers.append(HTTPField("grpc-encoding", "gzip"))
        } else {
            body = uncompressedBody()
        }
        for field in metadata { headers.append(HTTPField(field.name.lowercased(), field.value)) }
        let request = HTTP2Request(method: "POST", path: path, headers: headers, body: body, timeout: timeout,
                                   maxResponseBodyBytes: maxResponseMessageBytes + 64)
        let limit = maxResponseMessageBytes
        let gzip = self.gzip
        transport.execute(request) { result in
            switch result {
            case .success(let response):
                completion(.success(GRPCFraming.interpret(response, maxMessageBytes: limit, gzip: gzip)))
            case .failure(let error) where error.code == .responseTooLarge:
                completion(.success(GRPCResponse(code: .resourceExhausted, message: "response larger than \(limit) bytes")))
            case .failure(let error):
                completion(.failure(error))
            }
        }
    }

    /// Async form of `unary(path:metadata:message:timeout:compression:completion:)`.
    public func unary(path: String, metadata: [HTTPField] = [], message: [UInt8], timeout: Duration? = nil,
                      compression: GRPCCompression = .none) async -> Result<GRPCResponse, TransportError> {
        await withCheckedContinuation { continuation in
            unary(path: path, metadata: metadata, message: message, timeout: timeout, compression: compression) {
                continuation.resume(returning: $0)
            }
        }
    }

    /// Async form of `unary(path:metadata:framedMessage:timeout:compression:completion:)`.
    public func unary(path: String, metadata: [HTTPField] = [], framedMessage: GRPCFramedMessage, timeout: Duration? = nil,
                      compression: GRPCCompression = .none) async -> Result<GRPCResponse, TransportError> {
        await withCheckedContinuation { continuation in
            unary(path: path, metadata: metadata, framedMessage: framedMessage, timeout: timeout, compression: compression) {
                continuation.resume(returning: $0)
            }
        }
    }

    /// Shuts the transport down (see `HTTPTransport.shutdown(graceful:)`).
    public func shutdown(graceful: Bool = true) { transport.shutdown(graceful: graceful) }
}

/// An uncompressed gRPC message in its length-prefixed frame (flag byte 0, 4-byte big-endian
/// length, the message). Encode the message after ``prefixLength`` bytes of headroom and frame
/// it here, in place: sending it then copies nothing.
public struct GRPCFramedMessage: Sendable {
    /// Bytes before the message: the compressed flag and the length.
    public static let prefixLength = 5
    /// The whole frame.
    public let bytes: [UInt8]

    /// Frames `headroomAndMessage`: its first ``prefixLength`` bytes are overwritten with the
    /// prefix (in place when the array is not shared); the rest is the message.
    /// Returns `nil` when there is no room for the prefix or the message is over 4 GiB.
    public init?(headroomAndMessage: consuming [UInt8]) {
        var bytes = headroomAndMessage
        let length = bytes.count - Self.prefixLength
        guard length >= 0, let length32 = UInt32(exactly: length) else { return nil }
        bytes[0] = 0
        bytes[1] = UInt8(truncatingIfNeeded: length32 >> 24)
        bytes[2] = UInt8(truncatingIfNeeded: length32 >> 16)
        bytes[3] = UInt8(truncatingIfNeeded: length32 >> 8)
        bytes[4] = UInt8(truncatingIfNeeded: length32)
        self.bytes = bytes
    }

    /// Size of the message without the prefix.
    public var messageCount: Int { bytes.count - Self.prefixLength }
}

/// gRPC wire details: length-prefixed messages, grpc-timeout, status interpretation.
enum GRPCFraming {
    /// One length-prefixed message: flag byte, 4-byte big-endian length, bytes.
    static func frame(_ message: [UInt8], compressed: Bool) -> [UInt8] {
        var body = [UInt8]()
        body.reserveCapacity(message.count + 5)
        let length = UInt32(message.count)
        body.append(compressed ? 1 : 0)
        body.append(UInt8(truncatingIfNeeded: length >> 24))
        body.append(UInt8(truncatingIfNeeded: length >> 16))
        body.append(UInt8(truncatingIfNeeded: length >> 8))
        body.append(UInt8(truncatingIfNeeded: length))
        body.append(contentsOf: message)
        return body
    }

    /// `grpc-timeout`: at most 8 digits and a unit; rounded up so the server never sees a shorter deadline.
    static func timeoutHeader(_ timeout: Duration) -> String {
        let nanos = timeout.nanoseconds
        let units: [(UInt64, String)] = [(1, "n"), (1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S"),
                                         (60_000_000_000, "M"), (3_600_000_000_000, "H")]
        for (scale, unit) in units {
            let value = (nanos + scale - 1) / scale
            if value < 100_000_000 { return "\(value)\(unit)" }
        }
        return "99999999H"
    }

    /// Percent-decodes `grpc-message` (invalid escapes are kept as they are; invalid UTF-8 is replaced).
    static func percentDecode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 48...57: byte - 48
            case 65...70: byte - 55
            case 97...102: byte - 87
            default: nil
            }
        }
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes base64 (padded or not, standard alphabet); nil if malformed.
    static func base64Decode(_ text: String) -> [UInt8]? {
        var output: [UInt8] = []
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case 65...90: value = UInt32(byte - 65)
            case 97...122: value = UInt32(byte - 71)
            case 48...57: value = UInt32(byte + 4)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return output
    }

    /// Turns an HTTP/2 response into a gRPC outcome; a gzip-compressed message is inflated with `gzip`.
    static func interpret(_ response: HTTP2Response, maxMessageBytes: Int, gzip: any GzipCodec) -> GRPCResponse {
        var result = GRPCResponse(code: .unknown, headers: response.headers, trailers: response.trailers)
        guard response.status == 200 else {
            result.code = GRPCStatusCode.fromHTTPStatus(response.status)
            result.message = "HTTP status \(response.status)"
            return result
        }
        // Status from the trailers, or from the headers of a Trailers-Only response.
        let statusSource = response.trailers.contains { $0.name == "grpc-status" } ? response.trailers : response.headers
        guard let statusText = statusSource.first(where: { $0.name == "grpc-status" })?.value else {
            result.code = .internalError
            result.message = "response has no grpc-status"
            return result
        }
        guard let raw = Int(statusText), let code = GRPCStatusCode(rawValue: raw) else {
            result.code = .unknown
            result.message = "unknown grpc-status \(statusText)"
            return result
        }
        result.code = code
        result.message = percentDecode(statusSource.first { $0.name == "grpc-message" }?.value ?? "")
        if let details = statusSource.first(where: { $0.name == "grpc-status-details-bin" })?.value {
            result.statusDetails = base64Decode(details)
        }
        guard code == .ok else { return result }

        // Exactly one message for a unary OK response.
        let body = response.body
        guard body.count >= 5 else {
            result.code = .internalError
            result.message = body.isEmpty ? "OK response without a message" : "truncated gRPC message prefix"
            return result
        }
        let flag = body[0]
        let length = Int(body[1]) << 24 | Int(body[2]) << 16 | Int(body[3]) << 8 | Int(body[4])
        guard length <= maxMessageBytes else {
            result.code = .resourceExhausted
            result.message = "response message of \(length) bytes exceeds \(maxMessageBytes)"
            return result
        }
        guard body.count == 5 + length else {
            result.code = .internalError
            result.message = body.count < 5 + length ? "truncated gRPC message" : "more than one message in a unary response"
            return result
        }
        let message = Array(body[5...])
        switch flag {
        case 0:
            result.payload = message
        case 1:
            let encoding = response.headers.first { $0.name == "grpc-encoding" }?.value ?? "identity"
            guard encoding == "gzip" else {
                result.code = .internalError
                result.message = "compressed response with unsupported grpc-encoding \(encoding)"
                return result
            }
            do throws(GzipError) {
                result.payload = try gzip.decompress(message, limit: maxMessageBytes)
            } catch {
                result.code = error.kind == .tooLarge ? .resourceExhausted : .internalError
                result.message = "\(error)"
                result.payload = []
            }
        default:
            result.code = .internalError
            result.message = "invalid gRPC message flag \(flag)"
        }
        return result
    }
}
