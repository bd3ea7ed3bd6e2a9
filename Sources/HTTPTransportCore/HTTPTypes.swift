/// One HTTP header field. Names are lower-case on HTTP/2.
public struct HTTPField: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
    public var description: String { "\(name): \(value)" }
}

/// A plain HTTP/2 request (one stream).
public struct HTTP2Request: Sendable {
    /// `:method`. Default `POST`.
    public var method: String
    /// `:path`, e.g. `/v1/traces`.
    public var path: String
    /// Regular headers (lower-case names; pseudo-headers are added by the connection).
    public var headers: [HTTPField]
    /// The request body; empty means the HEADERS frame ends the stream.
    public var body: [UInt8]
    /// Time allowed from submission until the whole response has arrived. `nil`: no deadline.
    public var timeout: Duration?
    /// Cap on the response body; `nil` uses the connection's `maxResponseBodyBytes`.
    public var maxResponseBodyBytes: Int?

    public init(method: String = "POST", path: String, headers: [HTTPField] = [], body: [UInt8] = [],
                timeout: Duration? = nil, maxResponseBodyBytes: Int? = nil) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.maxResponseBodyBytes = maxResponseBodyBytes
    }
}

/// A complete HTTP/2 response.
public struct HTTP2Response: Sendable {
    /// `:status`.
    public var status: Int
    /// Response headers (without pseudo-headers).
    public var headers: [HTTPField]
    /// Trailers (a HEADERS frame after the body), empty if none.
    public var trailers: [HTTPField]
    /// The response body.
    public var body: [UInt8]

    public init(status: Int, headers: [HTTPField] = [], trailers: [HTTPField] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.trailers = trailers
        self.body = body
    }

    /// The first header (then trailer) value named `name`.
    public func value(_ name: String) -> String? {
        headers.first { $0.name == name }?.value ?? trailers.first { $0.name == name }?.value
    }
}

/// Completion callback of a request; called once, on the connection's I/O thread: keep it short.
public typealias HTTP2Completion = @Sendable (Result<HTTP2Response, TransportError>) -> Void
