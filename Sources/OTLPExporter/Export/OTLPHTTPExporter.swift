// OTLP/HTTP exporter: POST /v1/{traces,metrics,logs} with protobuf or OTLP/JSON bodies over
// HTTP/1.1 keep-alive (cleartext), or over https whichever of HTTP/2 and HTTP/1.1 the server
// selects in ALPN; retries on 429/502/503/504 and
// connection loss, honouring Retry-After.
import Foundation
public import HTTPTransportCore
public import TelemetryCore
import TelemetryPipeline

extension OTLPPartialSuccess {
    /// Reads `partialSuccess` from an OTLP/JSON export response
    /// (`{"partialSuccess":{"rejectedSpans":"3","errorMessage":"..."}}`; counts may be JSON
    /// numbers or strings, as int64 allows both). `nil` when absent, empty or malformed.
    public static func decode(jsonExportResponse bytes: [UInt8]) -> OTLPPartialSuccess? {
        guard !bytes.isEmpty,
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let partial = (object["partialSuccess"] ?? object["partial_success"]) as? [String: Any] else { return nil }
        var rejected: Int64 = 0
        for key in ["rejectedSpans", "rejectedDataPoints", "rejectedLogRecords",
                    "rejected_spans", "rejected_data_points", "rejected_log_records"] {
            if let text = partial[key] as? String, let n = Int64(text) { rejected = n }
            else if let number = partial[key] as? NSNumber { rejected = number.int64Value }
        }
        let message = (partial["errorMessage"] ?? partial["error_message"]) as? String ?? ""
        guard rejected != 0 || !message.isEmpty else { return nil }
        return OTLPPartialSuccess(rejectedItems: rejected, errorMessage: message)
    }
}

/// Sends encoded export requests over OTLP/HTTP.
///
/// The body given to ``export(encodedRequest:itemCount:)`` must be in the configured
/// encoding: binary protobuf for `http/protobuf`, OTLP/JSON for `http/json`. The endpoint's
/// path (default `/v1/<signal>`) is the POST target. Response bodies are capped at 4 MiB.
public final class OTLPHTTPExporter: Sendable {
    /// The configuration in use.
    public let configuration: OTLPExporterConfiguration
    let core: OTLPExportCore
    private let transport: any HTTPTransport
    private let gzip: any GzipCodec
    private let path: String

    /// Largest response body read (OTLP spec: responses are small; a hostile server cannot make us buffer more).
    public static let maxResponseBodyBytes = 4 << 20

    /// An exporter on an existing transport, compressing request bodies with `gzip` when the
    /// configuration asks for gzip.
    public init(configuration: OTLPExporterConfiguration, options: OTLPExportOptions = OTLPExportOptions(),
                transport: any HTTPTransport, gzip: any GzipCodec) {
        self.configuration = configuration
        self.transport = transport
        self.gzip = gzip
        self.path = (try? configuration.parsedEndpoint().path) ?? "/\(configuration.signal.httpPath)"
        self.core = OTLPExportCore(signal: configuration.signal, retry: configuration.retry,
                                   headers: configuration.headers, options: options)
    }

    /// The signal this exporter sends.
    public var signal: TelemetrySignal { configuration.signal }

    /// Item counts so far.
    public var counts: OTLPExportCounts { core.snapshot }

    /// The `content-type` of the configured encoding.
    public var contentType: String { configuration.protocol == .httpJSON ? "application/json" : "application/x-protobuf" }

    /// Exports one encoded request holding `itemCount` items. See ``OTLPGRPCExporter/export(encodedRequest:itemCount:)``.
    @discardableResult
    public func export(encodedRequest: [UInt8], itemCount: Int) async -> OTLPExportResult {
        if encodedRequest.count > core.options.maxRequestBytes {
            core.drop(itemCount: itemCount, bytes: encodedRequest.count)
            return .rejected(reason: "request of \(encodedRequest.count) bytes exceeds the size cap", attempts: 0)
        }
        var body = encodedRequest
        var fixedHeaders = [HTTPField("content-type", contentType)]
        if configuration.compression == .gzip {
            do {
                body = try gzip.compress(encodedRequest)
                fixedHeaders.append(HTTPField("content-encoding", "gzip"))
            } catch {
                return await core.run(itemCount: itemCount) { _ in .permanent(reason: "gzip failed: \(error)") }
            }
        }
        let isJSON = configuration.protocol == .httpJSON
        let request = HTTP2Request(method: "POST", path: path, headers: fixedHeaders, body: body,
                                   timeout: configuration.timeout, maxResponseBodyBytes: Self.maxResponseBodyBytes)
        let transport = self.transport
        let core = self.core
        let clock = core.options.clock
        return await core.run(itemCount: itemCount) { _ in
            var attemptRequest = request
            for field in await core.currentHeaders() where field.name != "content-type" && field.name != "content-encoding" {
                attemptRequest.headers.append(field)
            }
            do throws(TransportError) {
                let response = try await transport.execute(attemptRequest)
                if (200..<300).contains(response.status) {
                    let partial = isJSON ? OTLPPartialSuccess.decode(jsonExportResponse: response.body)
                                         : OTLPPartialSuccess.decode(exportResponse: response.body)
                    return .success(partialSuccess: partial)
                }
                return OTLPRetryRules.classify(httpStatus: response.status, retryAfter: response.value("retry-after"),
                                               now: clock.secondsSince1970(),
                                               body: HTTPErrorBody.text(response.body, contentType: response.value("content-type")))
            } catch {
                return OTLPRetryRules.classify(transportError: error)
            }
        }
    }

    /// Closes the connections.
    public func shutdown(graceful: Bool = true) { transport.shutdown(graceful: graceful) }
}
