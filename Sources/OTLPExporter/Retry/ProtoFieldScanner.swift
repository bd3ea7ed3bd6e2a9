// A minimal, bounds-checked protobuf field scanner for the few small messages the exporters
// read without their generated types: google.rpc.Status / Any / RetryInfo / Duration from
// `grpc-status-details-bin`, and the `partial_success` field of an Export*ServiceResponse
// (whose layout is the same for all three signals).

/// Iterates over the top-level fields of one encoded protobuf message. Malformed input ends
/// the scan with `isMalformed` set; it never traps.
struct ProtoFieldScanner {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    private let bytes: ArraySlice<UInt8>
    private var index: Int
    private(set) var isMalformed = false

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    private mutating func readVarint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            if shift == 63 && byte > 1 { return nil }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    /// The next field as (field number, value), or `nil` at the end or on malformed input.
    mutating func next() -> (field: UInt64, value: Value)? {
        guard !isMalformed, index < bytes.endIndex else { return nil }
        guard let key = readVarint() else { isMalformed = true; return nil }
        let field = key >> 3
        guard field > 0 else { isMalformed = true; return nil }
        switch key & 7 {
        case 0:
            guard let v = readVarint() else { isMalformed = true; return nil }
            return (field, .varint(v))
        case 1:
            guard bytes.endIndex - index >= 8 else { isMalformed = true; return nil }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[index + i]) << (8 * UInt64(i)) }
            index += 8
            return (field, .fixed64(v))
        case 2:
            guard let length = readVarint(), length <= UInt64(bytes.endIndex - index) else {
                isMalformed = true
                return nil
            }
            let slice = bytes[index..<(index + Int(length))]
            index += Int(length)
            return (field, .bytes(slice))
        case 5:
            guard bytes.endIndex - index >= 4 else { isMalformed = true; return nil }
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(bytes[index + i]) << (8 * UInt32(i)) }
            index += 4
            return (field, .fixed32(v))
        default:
            isMalformed = true
            return nil
        }
    }
}

/// The `partial_success` of an OTLP export response: the number of rejected items
/// (`rejected_spans`, `rejected_data_points` or `rejected_log_records`, all field 1) and the
/// server's message (field 2).
public struct OTLPPartialSuccess: Sendable, Hashable {
    /// Items the server rejected (not to be retried).
    public var rejectedItems: Int64
    /// The server's explanation; may be empty.
    public var errorMessage: String

    public init(rejectedItems: Int64, errorMessage: String) {
        self.rejectedItems = rejectedItems
        self.errorMessage = errorMessage
    }

    /// Reads `partial_success` (field 1) from an encoded `Export{Trace,Metrics,Logs}ServiceResponse`.
    /// Returns `nil` when the field is absent or empty (full success), or when the bytes are
    /// malformed (the export is then treated as successful: the server accepted it).
    public static func decode(exportResponse bytes: [UInt8]) -> OTLPPartialSuccess? {
        var scanner = ProtoFieldScanner(bytes)
        var result: OTLPPartialSuccess?
        while let (field, value) = scanner.next() {
            guard field == 1, case .bytes(let inner) = value else { continue }
            var partial = result ?? OTLPPartialSuccess(rejectedItems: 0, errorMessage: "")
            var innerScanner = ProtoFieldScanner(inner)
            while let (f, v) = innerScanner.next() {
                switch (f, v) {
                case (1, .varint(let n)): partial.rejectedItems = Int64(bitPattern: n)
                case (2, .bytes(let text)): partial.errorMessage = String(decoding: text, as: UTF8.self)
                default: break
                }
            }
            result = partial
        }
        guard let result, result.rejectedItems != 0 || !result.errorMessage.isEmpty else { return nil }
        return result
    }
}

/// Reads a `google.rpc.RetryInfo` out of a `google.rpc.Status` (the `grpc-status-details-bin` trailer).
enum RetryInfoDecoder {
    static let retryInfoTypeURLSuffix = "/google.rpc.RetryInfo"

    /// The `retry_delay` of the first `RetryInfo` detail, or `nil` when there is none (or the
    /// bytes are malformed). Negative delays count as zero.
    static func retryDelay(statusDetails: [UInt8]) -> Duration? {
        var status = ProtoFieldScanner(statusDetails)
        while let (field, value) = status.next() {
            // google.rpc.Status: 1 code, 2 message, 3 repeated Any details.
            guard field == 3, case .bytes(let any) = value else { continue }
            var typeURL = ""
            var payload: ArraySlice<UInt8>?
            var anyScanner = ProtoFieldScanner(any)
            while let (f, v) = anyScanner.next() {
                switch (f, v) {
                case (1, .bytes(let text)): typeURL = String(decoding: text, as: UTF8.self)
                case (2, .bytes(let bytes)): payload = bytes
                default: break
                }
            }
            guard typeURL.hasSuffix(retryInfoTypeURLSuffix) || typeURL == "google.rpc.RetryInfo" else { continue }
            // RetryInfo: 1 google.protobuf.Duration retry_delay.
            var seconds: Int64 = 0
            var nanos: Int64 = 0
            var info = ProtoFieldScanner(payload ?? [])
            while let (f, v) = info.next() {
                guard f == 1, case .bytes(let duration) = v else { continue }
                var d = ProtoFieldScanner(duration)
                while let (df, dv) = d.next() {
                    switch (df, dv) {
                    case (1, .varint(let s)): seconds = Int64(bitPattern: s)
                    case (2, .varint(let n)): nanos = Int64(Int32(truncatingIfNeeded: n))
                    default: break
                    }
                }
            }
            if info.isMalformed { return nil }
            let delay = Duration.seconds(seconds) + Duration.nanoseconds(nanos)
            return delay < .zero ? .zero : delay
        }
        return nil
    }
}

/// The text of an OTLP/HTTP error response for diagnostics: the `message` of a binary
/// `google.rpc.Status`, which the specification asks a server to send with
/// `application/x-protobuf` (<https://opentelemetry.io/docs/specs/otlp/#failures-1>), else the body
/// as UTF-8 (plain text, or a JSON `Status` that reads as it is), at most 512 bytes of it.
enum HTTPErrorBody {
    static func text(_ body: [UInt8], contentType: String?) -> String {
        if let contentType, contentType.lowercased().hasPrefix("application/x-protobuf") {
            var status = ProtoFieldScanner(body)
            var message: String?
            // google.rpc.Status: 1 code, 2 message, 3 repeated Any details.
            while let (field, value) = status.next() {
                if field == 2, case .bytes(let text) = value { message = String(decoding: text.prefix(512), as: UTF8.self) }
            }
            if !status.isMalformed, let message { return message }
        }
        return String(decoding: body.prefix(512), as: UTF8.self)
    }
}
