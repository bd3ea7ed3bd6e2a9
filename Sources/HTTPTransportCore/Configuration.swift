// Client configuration values (endpoint, TLS options, HTTP/2 and HTTP/1.1 client settings): plain
// values, so the layers above build them without the transport implementation.

/// Where to connect: scheme, host and port, parsed from `http://host:port` (h2c with prior
/// knowledge) or `https://host:port` (TLS with ALPN `h2`).
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// `true` for `https://` (TLS), `false` for `http://` (cleartext h2c).
    public var useTLS: Bool
    /// Host name or IP literal (IPv6 without brackets).
    public var host: String
    /// TCP port.
    public var port: UInt16

    public init(host: String, port: UInt16, useTLS: Bool) {
        self.host = host
        self.port = port
        self.useTLS = useTLS
    }

    /// Parses `http://host[:port][/...]` or `https://host[:port][/...]`; IPv6 literals in brackets.
    /// Default ports: 80 for http, 443 for https. Any path is ignored.
    public init(url: String) throws(TransportError) {
        let useTLS: Bool
        var rest: Substring
        if url.hasPrefix("http://") { useTLS = false; rest = url.dropFirst(7) }
        else if url.hasPrefix("https://") { useTLS = true; rest = url.dropFirst(8) }
        else { throw TransportError(.invalidConfiguration, "endpoint URL must start with http:// or https://: \(url)") }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw TransportError(.invalidConfiguration, "unclosed IPv6 literal in \(url)")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
            else if !after.isEmpty { throw TransportError(.invalidConfiguration, "bad authority in \(url)") }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw TransportError(.invalidConfiguration, "missing host in \(url)") }
        var port: UInt16 = useTLS ? 443 : 80
        if let portText {
            guard let parsed = UInt16(portText), parsed > 0 else {
                throw TransportError(.invalidConfiguration, "bad port in \(url)")
            }
            port = parsed
        }
        self.init(host: String(host), port: port, useTLS: useTLS)
    }

    /// The `:authority` value: `host:port`, IPv6 in brackets.
    public var authority: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public var description: String { "\(useTLS ? "https" : "http")://\(authority)" }
}

/// TLS options. The defaults verify the server against the system trust store and its host name.
public struct TLSOptions: Sendable, Hashable {
    /// PEM file of CA certificates to trust instead of the system trust store. Default: `nil`
    /// (system trust store).
    public var caFile: String?
    /// PEM client certificate (chain) for mutual TLS; must be given together with `clientKeyFile`.
    public var clientCertificateFile: String?
    /// PEM private key of the client certificate; must be given together with `clientCertificateFile`.
    public var clientKeyFile: String?
    /// Skip certificate and host-name verification. Default `false`. Only for tests and
    /// debugging: it makes TLS open to interception.
    public var insecure: Bool
    /// The name sent as SNI and checked against the certificate. Default `nil`: the endpoint's host.
    public var serverName: String?

    public init(caFile: String? = nil, clientCertificateFile: String? = nil, clientKeyFile: String? = nil,
                insecure: Bool = false, serverName: String? = nil) {
        self.caFile = caFile
        self.clientCertificateFile = clientCertificateFile
        self.clientKeyFile = clientKeyFile
        self.insecure = insecure
        self.serverName = serverName
    }
}

/// Configuration of an HTTP/2 client connection (one TCP connection, reconnected on demand).
public struct HTTP2ClientConfiguration: Sendable, Hashable {
    /// Where to connect.
    public var endpoint: Endpoint
    /// TLS options, used when `endpoint.useTLS` is true.
    public var tls: TLSOptions
    /// Deadline for DNS + TCP connect + TLS handshake together. Default 10 s.
    public var connectTimeout: Duration
    /// Upper bound of concurrent streams we open, even if the peer allows more. The peer's
    /// SETTINGS_MAX_CONCURRENT_STREAMS is respected too; requests beyond it wait in a queue.
    /// Default 100.
    public var maxConcurrentStreams: Int
    /// Flow-control window we advertise per stream. Default 16 MiB (large windows keep bulk
    /// uploads and big responses from stalling).
    public var initialStreamWindow: Int32
    /// Flow-control window we advertise for the whole connection. Default 16 MiB.
    public var connectionWindow: Int32
    /// Maximum size of a received response body (plain HTTP/2). Default 4 MiB.
    public var maxResponseBodyBytes: Int
    /// Maximum size of a received header list (names + values + 32 bytes per field, as
    /// SETTINGS_MAX_HEADER_LIST_SIZE counts it). Default 64 KiB.
    public var maxHeaderListBytes: Int
    /// Send a PING when nothing has been received for this long; `nil` (default) disables it.
    /// Use `recommendedKeepaliveInterval` (5 minutes) unless the server allows more frequent
    /// pings: gRPC servers close connections that ping too often (`ENHANCE_YOUR_CALM`).
    public var keepaliveInterval: Duration?
    /// How long to wait for a PING acknowledgement before closing the connection. Default 20 s.
    public var keepaliveTimeout: Duration
    /// `user-agent` header value.
    public var userAgent: String

    public init(endpoint: Endpoint, tls: TLSOptions = TLSOptions(), connectTimeout: Duration = .seconds(10),
                maxConcurrentStreams: Int = 100, initialStreamWindow: Int32 = 16 << 20,
                connectionWindow: Int32 = 16 << 20, maxResponseBodyBytes: Int = 4 << 20,
                maxHeaderListBytes: Int = 64 << 10, keepaliveInterval: Duration? = nil,
                keepaliveTimeout: Duration = .seconds(20), userAgent: String = "swift-otlp/0.1") {
        self.endpoint = endpoint
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.maxConcurrentStreams = maxConcurrentStreams
        self.initialStreamWindow = initialStreamWindow
        self.connectionWindow = connectionWindow
        self.maxResponseBodyBytes = maxResponseBodyBytes
        self.maxHeaderListBytes = maxHeaderListBytes
        self.keepaliveInterval = keepaliveInterval
        self.keepaliveTimeout = keepaliveTimeout
        self.userAgent = userAgent
    }

    /// The keepalive interval to use when turning keepalive on: 5 minutes, the gRPC default
    /// minimum a server accepts without calls in flight.
    public static let recommendedKeepaliveInterval: Duration = .seconds(300)

    /// Checks option combinations that can never work.
    public func validate() throws(TransportError) {
        if (tls.clientCertificateFile == nil) != (tls.clientKeyFile == nil) {
            throw TransportError(.invalidConfiguration, "client certificate and client key must be given together")
        }
        if maxConcurrentStreams < 1 { throw TransportError(.invalidConfiguration, "maxConcurrentStreams must be ≥ 1") }
        if initialStreamWindow < 65535 || connectionWindow < 65535 {
            throw TransportError(.invalidConfiguration, "flow-control windows must be ≥ 65535")
        }
        if let serverName = tls.serverName, serverName.isEmpty {
            // OpenSSL treats an empty name as "no host-name check": refuse it.
            throw TransportError(.invalidConfiguration, "TLS server name must not be empty")
        }
    }
}

/// Configuration of an `HTTP1Client` (`HTTP2Transport`).
public struct HTTP1ClientConfiguration: Sendable, Hashable {
    /// Where to connect: `http://` (cleartext) or `https://` (TLS, ALPN `http/1.1`).
    public var endpoint: Endpoint
    /// TLS options, used when `endpoint.useTLS` is true: the same as ``HTTP2ClientConfiguration/tls``
    /// (system trust store and host-name verification by default, CA file, mTLS, insecure opt-in).
    public var tls: TLSOptions
    /// Deadline for DNS + TCP connect + TLS handshake together. Default 10 s.
    public var connectTimeout: Duration
    /// Maximum response body. Default 4 MiB.
    public var maxResponseBodyBytes: Int
    /// Maximum response head (status line + header fields). Default 64 KiB.
    public var maxHeaderBytes: Int
    /// Idle keep-alive connections kept for reuse. Default 4.
    public var maxIdleConnections: Int
    /// `user-agent` header value.
    public var userAgent: String

    public init(endpoint: Endpoint, tls: TLSOptions = TLSOptions(), connectTimeout: Duration = .seconds(10),
                maxResponseBodyBytes: Int = 4 << 20, maxHeaderBytes: Int = 64 << 10, maxIdleConnections: Int = 4,
                userAgent: String = "swift-otlp/0.1") {
        self.endpoint = endpoint
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.maxResponseBodyBytes = maxResponseBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxIdleConnections = maxIdleConnections
        self.userAgent = userAgent
    }
}
