// OTLP/gRPC exporter: one HTTP/2 connection, several unary Export calls in flight, retries.
import HTTP2Transport

extension OTLPSignal {
    /// The gRPC method path of the signal's collector service.
    public var grpcPath: String {
        switch self {
        case .traces: "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        case .metrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
        case .logs: "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
        }
    }
}

extension OTLPExporterConfiguration {
    /// The transport configuration for this exporter's endpoint and TLS options.
    /// - Throws: ``OTLPConfigurationError`` when the endpoint does not parse.
    public func http2ClientConfiguration(maxConcurrentStreams: Int = 100) throws(OTLPConfigurationError) -> HTTP2ClientConfiguration {
        let parsed = try parsedEndpoint()
        let tlsOn = try usesTLS()
        guard let port = parsed.port, let port16 = UInt16(exactly: port) else {
            throw OTLPConfigurationError(code: .invalidEndpoint, message: "endpoint '\(endpoint)' has no port")
        }
        let options = TLSOptions(caFile: tls.caCertificateFile, clientCertificateFile: tls.clientIdentity?.certificateFile,
                                 clientKeyFile: tls.clientIdentity?.privateKeyFile, insecure: tls.skipsServerVerification)
        return HTTP2ClientConfiguration(endpoint: Endpoint(host: parsed.host, port: port16, useTLS: tlsOn), tls: options,
                                        connectTimeout: timeout, maxConcurrentStreams: maxConcurrentStreams)
    }
}

/// An error creating an exporter.
public struct OTLPExporterError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "OTLP exporter: \(message)" }
}

/// Sends encoded `Export{Trace,Metrics,Logs}ServiceRequest` messages over OTLP/gRPC.
///
/// Each call to ``export(encodedRequest:itemCount:)`` is one request, retried on the OTLP
/// spec's retryable statuses and on connection failures (see ``OTLPRetryRules``), with at most
/// ``OTLPExportOptions/maxConcurrentExports`` in flight on one HTTP/2 connection. Partial
/// successes are counted as rejected and reported at most once per interval; requests over
/// ``OTLPExportOptions/maxRequestBytes`` are dropped and counted, never sent.
public final class OTLPGRPCExporter: Sendable {
    /// The configuration in use.
    public let configuration: OTLPExporterConfiguration
    let core: OTLPExportCore
    private let client: GRPCClient

    /// An exporter on a new HTTP/2 connection to `configuration.endpoint` (connected lazily).
    /// - Throws: ``OTLPExporterError`` when the configuration or the transport cannot be set up.
    public convenience init(configuration: OTLPExporterConfiguration, options: OTLPExportOptions = OTLPExportOptions()) throws {
        do {
            try configuration.validate()
            let transportConfig = try configuration.http2ClientConfiguration(maxConcurrentStreams: max(100, options.maxConcurrentExports))
            let client = try GRPCClient(configuration: transportConfig, maxResponseMessageBytes: 4 << 20)
            self.init(configuration: configuration, options: options, client: client)
        } catch {
            throw OTLPExporterError("\(error)")
        }
    }

    /// An exporter on an existing gRPC client (e.g. over an in-memory transport in tests).
    public init(configuration: OTLPExporterConfiguration, options: OTLPExportOptions = OTLPExportOptions(), client: GRPCClient) {
        self.configuration = configuration
        self.client = client
        self.core = OTLPExportCore(signal: configuration.signal, retry: configuration.retry,
                                   headers: configuration.headers, options: options)
    }

    /// The signal this exporter sends.
    public var signal: OTLPSignal { configuration.signal }

    /// Item counts so far.
    public var counts: OTLPExportCounts { core.snapshot }

    /// Exports one encoded request holding `itemCount` items (spans, data points or log records).
    ///
    /// Returns after the request was delivered, rejected, or given up on; the outcome is also
    /// added to ``counts``. Safe to call from several tasks at once.
    @discardableResult
    public func export(encodedRequest: [UInt8], itemCount: Int) async -> OTLPExportResult {
        if encodedRequest.count > core.options.maxRequestBytes {
            core.drop(itemCount: itemCount, bytes: encodedRequest.count)
            return .rejected(reason: "request of \(encodedRequest.count) bytes exceeds the size cap", attempts: 0)
        }
        var framed = [UInt8](repeating: 0, count: GRPCFramedMessage.prefixLength)
        framed.append(contentsOf: encodedRequest)
        return await export(framedRequest: GRPCFramedMessage(headroomAndMessage: framed)!, itemCount: itemCount)
    }

    /// ``export(encodedRequest:itemCount:)`` for a request already in its gRPC frame (encoded
    /// after ``GRPCFramedMessage/prefixLength`` bytes of headroom): sent without another copy.
    @discardableResult
    public func export(framedRequest: GRPCFramedMessage, itemCount: Int) async -> OTLPExportResult {
        if framedRequest.messageCount > core.options.maxRequestBytes {
            core.drop(itemCount: itemCount, bytes: framedRequest.messageCount)
            return .rejected(reason: "request of \(framedRequest.messageCount) bytes exceeds the size cap", attempts: 0)
        }
        let client = self.client
        let core = self.core
        let path = configuration.signal.grpcPath
        let timeout = configuration.timeout
        let compression: GRPCCompression = configuration.compression == .gzip ? .gzip : .none
        return await core.run(itemCount: itemCount) { _ in
            let metadata = await core.currentHeaders()
            let result = await client.unary(path: path, metadata: metadata, framedMessage: framedRequest,
                                            timeout: timeout, compression: compression)
            return OTLPRetryRules.classify(result)
        }
    }

    /// Closes the connection. Graceful: exports in flight finish first.
    public func shutdown(graceful: Bool = true) { client.shutdown(graceful: graceful) }
}
