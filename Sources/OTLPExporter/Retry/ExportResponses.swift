// What the exporters read from a server's answer, decoded with the generated types: the
// `partial_success` of an Export*ServiceResponse and the `RetryInfo` in a `google.rpc.Status`.
import OTLPProto
import OTLPWire

/// The `partial_success` of an OTLP export response: the number of rejected items
/// (`rejected_spans`, `rejected_data_points` or `rejected_log_records`) and the server's message.
public struct OTLPPartialSuccess: Sendable, Hashable {
    /// Items the server rejected (not to be retried).
    public var rejectedItems: Int64
    /// The server's explanation; may be empty.
    public var errorMessage: String

    public init(rejectedItems: Int64, errorMessage: String) {
        self.rejectedItems = rejectedItems
        self.errorMessage = errorMessage
    }

    /// Reads `partial_success` from an encoded `Export{Trace,Metrics,Logs}ServiceResponse`.
    /// Returns `nil` when the field is absent or empty (full success), or when the bytes are
    /// malformed (the export is then treated as successful: the server accepted it).
    ///
    /// The three responses share one layout (`partial_success` = 1 holding the rejected count
    /// as int64 = 1 and `error_message` = 2), so one decoder serves every signal; a test holds
    /// the three generated layouts equal.
    public static func decode(exportResponse bytes: [UInt8]) -> OTLPPartialSuccess? {
        guard let response = try? CollectorTraceV1ExportTraceServiceResponse(serializedBytes: bytes),
              let partial = response.partialSuccess,
              partial.rejectedSpans != 0 || !partial.errorMessage.isEmpty else { return nil }
        return OTLPPartialSuccess(rejectedItems: partial.rejectedSpans, errorMessage: partial.errorMessage)
    }
}

/// Reads a `google.rpc.RetryInfo` out of a `google.rpc.Status` (the `grpc-status-details-bin` trailer).
enum RetryInfoDecoder {
    static let retryInfoTypeURLSuffix = "/google.rpc.RetryInfo"

    /// The `retry_delay` of the first `RetryInfo` detail, or `nil` when there is none (or the
    /// bytes are malformed). Negative delays count as zero.
    static func retryDelay(statusDetails: [UInt8]) -> Duration? {
        guard let status = try? GoogleRpcStatus(serializedBytes: statusDetails) else { return nil }
        guard let detail = status.details.first(where: {
            $0.typeUrl.hasSuffix(retryInfoTypeURLSuffix) || $0.typeUrl == "google.rpc.RetryInfo"
        }) else { return nil }
        guard let info = try? GoogleRpcRetryInfo(serializedBytes: detail.value) else { return nil }
        let delay = info.retryDelay ?? GoogleProtobufDuration()
        let total = Duration.seconds(delay.seconds) + Duration.nanoseconds(Int64(delay.nanos))
        return total < .zero ? .zero : total
    }
}

/// The text of an OTLP/HTTP error response for diagnostics: the `message` of a binary
/// `google.rpc.Status`, which the specification asks a server to send with
/// `application/x-protobuf` (<https://opentelemetry.io/docs/specs/otlp/#failures-1>), else the body
/// as UTF-8 (plain text, or a JSON `Status` that reads as it is), at most 512 bytes of it.
enum HTTPErrorBody {
    static func text(_ body: [UInt8], contentType: String?) -> String {
        if let contentType, contentType.lowercased().hasPrefix("application/x-protobuf"),
           let status = try? GoogleRpcStatus(serializedBytes: body), !status.message.isEmpty {
            return String(decoding: Array(status.message.utf8.prefix(512)), as: UTF8.self)
        }
        return String(decoding: body.prefix(512), as: UTF8.self)
    }
}
