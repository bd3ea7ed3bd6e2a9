// GRPCClient's initializers on this module's implementations: gzip on zlib, HTTP/2 on nghttp2.
public import HTTPTransportCore

extension GRPCClient {
    /// A client on `transport` that compresses and inflates gzip messages with zlib (``ZlibGzip``).
    public convenience init(transport: any HTTPTransport, maxResponseMessageBytes: Int = 4 << 20,
                            userAgent: String = "swift-otlp/0.1") {
        self.init(transport: transport, gzip: ZlibGzip(), maxResponseMessageBytes: maxResponseMessageBytes,
                  userAgent: userAgent)
    }

    /// A client on a new ``HTTP2Client`` made from `configuration`, with zlib gzip.
    public convenience init(configuration: HTTP2ClientConfiguration, maxResponseMessageBytes: Int = 4 << 20) throws(TransportError) {
        self.init(transport: try HTTP2Client(configuration: configuration), maxResponseMessageBytes: maxResponseMessageBytes,
                  userAgent: configuration.userAgent)
    }
}
