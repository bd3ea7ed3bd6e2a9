// The exporters' real clients: HTTP/2 (gRPC), HTTP/1.1 and ALPN-negotiating clients on sockets,
// nghttp2, OpenSSL and zlib. The one file of OTLPExporter that imports HTTP2Transport; what runs
// at export time sees only HTTPTransportCore (`HTTPTransport`, `GRPCClient`, `GzipCodec`).
import HTTP2Transport
public import HTTPTransportCore

extension OTLPGRPCExporter {
    /// An exporter on a new HTTP/2 connection to `configuration.endpoint` (connected lazily).
    /// - Throws: ``OTLPExporterError``: `.invalidConfiguration` with the ``OTLPConfigurationError``
    ///   as its cause, or `.transportSetup` with the `TransportError` (TLS files, client identity).
    public convenience init(configuration: OTLPExporterConfiguration,
                            options: OTLPExportOptions = OTLPExportOptions()) throws(OTLPExporterError) {
        let transportConfig: HTTP2ClientConfiguration
        do throws(OTLPConfigurationError) {
            try configuration.validate()
            transportConfig = try configuration.http2ClientConfiguration(maxConcurrentStreams: max(100, options.maxConcurrentExports))
        } catch {
            throw .configuration(error)
        }
        let client: GRPCClient
        do throws(TransportError) {
            client = try GRPCClient(configuration: transportConfig, maxResponseMessageBytes: 4 << 20)
        } catch {
            throw .transport(error)
        }
        self.init(configuration: configuration, options: options, client: client)
    }
}

extension OTLPHTTPExporter {
    /// An exporter for `configuration` (`http/protobuf` or `http/json`): HTTP/1.1 with
    /// keep-alive for `http://`; for `https://` ALPN offers `h2` and `http/1.1` and the
    /// collector's choice is used (HTTP/1.1 with keep-alive when it selects none).
    /// - Throws: ``OTLPExporterError``: `.invalidConfiguration` with the ``OTLPConfigurationError``
    ///   as its cause (also for a protocol that is not OTLP/HTTP), or `.transportSetup` with the
    ///   `TransportError` (TLS files, client identity).
    public convenience init(configuration: OTLPExporterConfiguration,
                            options: OTLPExportOptions = OTLPExportOptions()) throws(OTLPExporterError) {
        let useTLS: Bool
        let h2: HTTP2ClientConfiguration
        do throws(OTLPConfigurationError) {
            guard configuration.protocol.isHTTP else {
                throw OTLPConfigurationError(code: .invalidValue, message: "protocol \(configuration.protocol) is not OTLP/HTTP")
            }
            try configuration.validate()
            useTLS = try configuration.usesTLS()
            h2 = try configuration.http2ClientConfiguration(maxConcurrentStreams: useTLS ? max(100, options.maxConcurrentExports) : 100)
        } catch {
            throw .configuration(error)
        }
        let transport: any HTTPTransport
        do throws(TransportError) {
            if useTLS {
                // ALPN offers h2 and http/1.1: HTTP/2 when the collector selects h2, else HTTP/1.1 over TLS.
                transport = try NegotiatingHTTPClient(
                    http1: HTTP1ClientConfiguration(endpoint: h2.endpoint, tls: h2.tls, connectTimeout: configuration.timeout,
                                                    maxResponseBodyBytes: Self.maxResponseBodyBytes,
                                                    maxIdleConnections: options.maxConcurrentExports),
                    http2: h2)
            } else {
                transport = try HTTP1Client(configuration: HTTP1ClientConfiguration(
                    endpoint: h2.endpoint, connectTimeout: configuration.timeout,
                    maxResponseBodyBytes: Self.maxResponseBodyBytes,
                    maxIdleConnections: options.maxConcurrentExports))
            }
        } catch {
            throw .transport(error)
        }
        self.init(configuration: configuration, options: options, transport: transport, gzip: ZlibGzip())
    }

    /// An exporter on an existing transport; gzip (when configured) on zlib.
    public convenience init(configuration: OTLPExporterConfiguration, options: OTLPExportOptions = OTLPExportOptions(),
                            transport: any HTTPTransport) {
        self.init(configuration: configuration, options: options, transport: transport, gzip: ZlibGzip())
    }
}
