// OTLP/gRPC exporter: one HTTP/2 connection, several unary Export calls in flight, retries.
public import HTTPTransportCore
import OTLPProto
public import TelemetryCore
import TelemetryPipeline

extension TelemetrySignal {
    /// The gRPC method path of the signal's collector service, from its generated service
    /// descriptor (`/opentelemetry.proto.collector.trace.v1.TraceService/Export` ...).
    public var grpcPath: String {
        switch self {
        case .traces: CollectorTraceV1TraceService.export.path
        case .metrics: CollectorMetricsV1MetricsService.export.path
        case .logs: CollectorLogsV1LogsService.export.path
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

/// An error creating an exporter: what failed, in words, and the typed error underneath.
///
/// ```swift
/// do { exporter = try OTLPGRPCExporter(configuration: configuration) }
/// catch let error where error.transportError?.code == .invalidConfiguration { … }  // e.g. TLS files
/// ```
public struct OTLPExporterError: Error, Sendable, CustomStringConvertible {
    /// Which step of setting the exporter up failed. Extensible: more codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: String, Sendable, Hashable {
            case invalidConfiguration, transportSetup
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The configuration's values are unusable (endpoint, headers, retry policy, protocol);
        /// the cause is an ``OTLPConfigurationError``.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The transport could not be set up (TLS files that do not load, a client key that does
        /// not match its certificate, no system resources); the cause is a `TransportError`.
        public static let transportSetup = Code(.transportSetup)

        public var description: String { wrapped.rawValue }
    }

    /// Which step failed.
    public var code: Code
    /// What failed, in words (the cause's description unless given otherwise).
    public var message: String
    /// The error underneath: an ``OTLPConfigurationError`` or a `TransportError`.
    public var cause: (any Error & Sendable)?

    /// An error of `code` with `cause`, described by `message` (by default the cause's description).
    public init(code: Code, message: String? = nil, cause: (any Error & Sendable)?) {
        self.code = code
        self.cause = cause
        self.message = message ?? cause.map { "\($0)" } ?? "\(code)"
    }

    /// An invalid configuration with no typed cause.
    public init(_ message: String) {
        self.init(code: .invalidConfiguration, message: message, cause: nil)
    }

    /// The cause, when it is a configuration error.
    public var configurationError: OTLPConfigurationError? { cause as? OTLPConfigurationError }
    /// The cause, when it is a transport error.
    public var transportError: TransportError? { cause as? TransportError }

    public var description: String { "OTLP exporter: \(message)" }

    static func configuration(_ error: OTLPConfigurationError) -> OTLPExporterError {
        OTLPExporterError(code: .invalidConfiguration, cause: error)
    }

    static func transport(_ error: TransportError) -> OTLPExporterError {
        OTLPExporterError(code: .transportSetup, cause: error)
    }
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

    /// An exporter on an existing gRPC client (e.g. over an in-memory transport in tests).
    public init(configuration: OTLPExporterConfiguration, options: OTLPExportOptions = OTLPExportOptions(), client: GRPCClient) {
        self.configuration = configuration
        self.client = client
        self.core = OTLPExportCore(signal: configuration.signal, retry: configuration.retry,
                                   headers: configuration.headers, options: options)
    }

    /// The signal this exporter sends.
    public var signal: TelemetrySignal { configuration.signal }

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
