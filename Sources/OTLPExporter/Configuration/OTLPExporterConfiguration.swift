// Exporter configuration as value types with documented defaults.
//
// Defaults follow the OpenTelemetry specification, "OpenTelemetry Protocol Exporter"
// (specification/protocol/exporter.md, section "Configuration Options"); the retry backoff
// parameters are the SDK's own (the specification leaves them to the SDK).

public import TelemetryCore
import TelemetryPipeline

/// Each signal has its own exporter configuration and HTTP path.
extension TelemetrySignal {
    /// The path appended to a shared HTTP base endpoint: `v1/traces`, `v1/metrics`, `v1/logs`
    /// (OTLP exporter spec, "Endpoint URLs for OTLP/HTTP").
    public var httpPath: String { "v1/\(rawValue)" }

    /// The upper-case infix of the per-signal environment variables: `TRACES`, `METRICS`, `LOGS`.
    public var environmentInfix: String { rawValue.uppercased() }
}

/// The OTLP transport protocol (`OTEL_EXPORTER_OTLP_PROTOCOL`).
public enum OTLPProtocol: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// OTLP/gRPC over HTTP/2.
    case grpc = "grpc"
    /// OTLP/HTTP with binary protobuf bodies (`application/x-protobuf`).
    case httpProtobuf = "http/protobuf"
    /// OTLP/HTTP with OTLP/JSON bodies (`application/json`).
    case httpJSON = "http/json"

    /// `true` for both OTLP/HTTP encodings.
    public var isHTTP: Bool { self != .grpc }

    public var description: String { rawValue }
}

/// Payload compression (`OTEL_EXPORTER_OTLP_COMPRESSION`): `none` (the spec's default) or `gzip`.
public enum OTLPCompression: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case none
    case gzip

    public var description: String { rawValue }
}

/// TLS options of one exporter.
///
/// The client certificate and its private key are one value (``ClientIdentity``), so a
/// configuration can never carry only one of them. Building one from two optional paths goes
/// through ``init(caCertificateFile:clientCertificateFile:clientKeyFile:insecure:)``, which throws
/// when exactly one is given.
public struct OTLPTLSConfiguration: Sendable, Hashable {
    /// A client certificate chain and its private key, both PEM files (mutual TLS).
    public struct ClientIdentity: Sendable, Hashable {
        /// PEM file with the client certificate (chain) (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`).
        public var certificateFile: String
        /// PEM file with the client's private key (`OTEL_EXPORTER_OTLP_CLIENT_KEY`).
        public var privateKeyFile: String

        public init(certificateFile: String, privateKeyFile: String) {
            self.certificateFile = certificateFile
            self.privateKeyFile = privateKeyFile
        }
    }

    /// PEM file of trusted CA certificates used to verify the server
    /// (`OTEL_EXPORTER_OTLP_CERTIFICATE`); `nil` uses the system trust store.
    public var caCertificateFile: String?
    /// Client certificate and key for mutual TLS; `nil` for none.
    public var clientIdentity: ClientIdentity?
    /// Plain-text transport for a gRPC endpoint given without a scheme
    /// (`OTEL_EXPORTER_OTLP_INSECURE`, default `false`). An `http://` endpoint is always plain
    /// text and an `https://` endpoint always uses TLS, whatever this says (OTLP exporter spec,
    /// "Insecure").
    public var insecure: Bool
    /// Accept any server certificate on a TLS connection (no chain or hostname check). For tests
    /// against self-signed collectors only; default `false`. Unlike ``insecure`` this keeps TLS.
    public var skipsServerVerification: Bool = false

    /// TLS with the system trust store, no client certificate.
    public init(caCertificateFile: String? = nil, clientIdentity: ClientIdentity? = nil, insecure: Bool = false) {
        self.caCertificateFile = caCertificateFile
        self.clientIdentity = clientIdentity
        self.insecure = insecure
    }

    /// Builds TLS options from separate optional paths.
    /// - Throws: ``OTLPConfigurationError`` with code `.incompleteClientIdentity` when only one of
    ///   `clientCertificateFile` and `clientKeyFile` is given.
    public init(
        caCertificateFile: String?,
        clientCertificateFile: String?,
        clientKeyFile: String?,
        insecure: Bool = false
    ) throws(OTLPConfigurationError) {
        switch (clientCertificateFile, clientKeyFile) {
        case (nil, nil):
            self.init(caCertificateFile: caCertificateFile, clientIdentity: nil, insecure: insecure)
        case let (certificate?, key?):
            self.init(
                caCertificateFile: caCertificateFile,
                clientIdentity: ClientIdentity(certificateFile: certificate, privateKeyFile: key),
                insecure: insecure
            )
        case (_?, nil):
            throw OTLPConfigurationError(
                code: .incompleteClientIdentity,
                message: "a client certificate was given without its private key; give both or neither"
            )
        case (nil, _?):
            throw OTLPConfigurationError(
                code: .incompleteClientIdentity,
                message: "a client private key was given without its certificate; give both or neither"
            )
        }
    }
}

/// Exponential backoff with jitter for retryable export failures.
///
/// The n-th retry (n = 1, 2, …) waits a nominal `min(initialBackoff · multiplier^(n-1), maxBackoff)`,
/// scaled by a uniformly random factor in `[1 - jitter, 1 + jitter]`; retries stop once
/// `maxElapsedTime` has passed since the first attempt. Defaults: 5 s initial, 30 s
/// maximum, ×1.5, ±50 %, give up after 5 minutes.
public struct OTLPRetryPolicy: Sendable, Hashable {
    /// Nominal wait before the first retry. Default 5 s.
    public var initialBackoff: Duration
    /// Upper bound of the nominal wait (before jitter). Default 30 s.
    public var maxBackoff: Duration
    /// Growth factor of the nominal wait per retry, ≥ 1. Default 1.5.
    public var multiplier: Double
    /// Relative jitter in `[0, 1]`: 0.5 means ±50 %. Default 0.5.
    public var jitter: Double
    /// Total time after which an export gives up (and its items are counted as failed). Default 5 min.
    public var maxElapsedTime: Duration

    /// The defaults listed above.
    public static let `default` = OTLPRetryPolicy()

    /// A policy that never retries.
    public static let disabled = OTLPRetryPolicy(maxElapsedTime: .zero)

    public init(
        initialBackoff: Duration = .seconds(5),
        maxBackoff: Duration = .seconds(30),
        multiplier: Double = 1.5,
        jitter: Double = 0.5,
        maxElapsedTime: Duration = .seconds(300)
    ) {
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.jitter = jitter
        self.maxElapsedTime = maxElapsedTime
    }

    /// Checks the values: durations non-negative, `initialBackoff ≤ maxBackoff`, `multiplier ≥ 1`,
    /// `0 ≤ jitter ≤ 1` (all finite).
    /// - Throws: ``OTLPConfigurationError`` with code `.invalidRetryPolicy` naming the bad value.
    public func validate() throws(OTLPConfigurationError) {
        func fail(_ message: String) -> OTLPConfigurationError {
            OTLPConfigurationError(code: .invalidRetryPolicy, message: message)
        }
        if initialBackoff < .zero { throw fail("initialBackoff \(initialBackoff) is negative") }
        if maxBackoff < initialBackoff {
            throw fail("maxBackoff \(maxBackoff) is smaller than initialBackoff \(initialBackoff)")
        }
        if !(multiplier.isFinite && multiplier >= 1) { throw fail("multiplier \(multiplier) is not a finite number ≥ 1") }
        if !(jitter.isFinite && jitter >= 0 && jitter <= 1) { throw fail("jitter \(jitter) is not in [0, 1]") }
        if maxElapsedTime < .zero { throw fail("maxElapsedTime \(maxElapsedTime) is negative") }
    }

    /// The nominal (jitter-free) wait before retry number `retry` (1 for the first retry).
    public func nominalBackoff(retry: Int) -> Duration {
        let initial = initialBackoff.seconds
        let cap = maxBackoff.seconds
        guard retry > 1 else { return Duration.seconds(min(initial, cap)) }
        // Stop multiplying once the cap is reached, so large retry counts cannot overflow.
        var value = initial
        var step = 1
        while step < retry && value < cap {
            value *= multiplier
            step += 1
        }
        return Duration.seconds(min(value, cap))
    }

    /// The wait before retry number `retry`, with jitter taken from `unitRandom` in `[0, 1)`:
    /// 0 gives `nominal · (1 - jitter)`, values near 1 give `nominal · (1 + jitter)`.
    /// Deterministic for a given `unitRandom`, so callers (and tests) inject the randomness.
    public func backoff(retry: Int, unitRandom: Double) -> Duration {
        let nominal = nominalBackoff(retry: retry).seconds
        let u = unitRandom.isFinite ? min(max(unitRandom, 0), 1) : 0.5
        let factor = 1 - jitter + 2 * jitter * u
        return Duration.seconds(max(0, nominal * factor))
    }
}

extension Duration {
    /// This duration in (fractional) seconds.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}

/// The configuration of one OTLP exporter (one signal).
///
/// Defaults (OTLP exporter spec, "Configuration Options"): protocol `http/protobuf`, endpoint
/// `http://localhost:4318/v1/<signal>` for OTLP/HTTP and `http://localhost:4317` for OTLP/gRPC,
/// no headers, timeout 10 s, no compression, system trust store; retries per ``OTLPRetryPolicy``.
public struct OTLPExporterConfiguration: Sendable, Hashable {
    /// The signal this exporter sends.
    public var signal: TelemetrySignal
    /// The full endpoint URL. For OTLP/HTTP it includes the path the request is POSTed to
    /// (`/v1/traces` etc.); for OTLP/gRPC only scheme, host and port matter.
    public var endpoint: String
    /// Transport protocol.
    public var `protocol`: OTLPProtocol
    /// Static request headers (names in lower case), sent with every export in addition to the
    /// protocol's own headers.
    public var headers: [String: String]
    /// Maximum time one export request (one attempt) may take. Default 10 s
    /// (`OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds).
    public var timeout: Duration
    /// Request body compression. Default none.
    public var compression: OTLPCompression
    /// TLS options.
    public var tls: OTLPTLSConfiguration
    /// Retry policy for retryable failures.
    public var retry: OTLPRetryPolicy

    /// The spec's default timeout for one export: 10 seconds.
    public static let defaultTimeout: Duration = .seconds(10)
    /// The spec's default protocol: `http/protobuf` (OTLP exporter spec, "Specify Protocol":
    /// "the default transport SHOULD be http/protobuf").
    public static let defaultProtocol: OTLPProtocol = .httpProtobuf

    /// The spec's default endpoint for `protocol` and `signal`:
    /// `http://localhost:4317` (gRPC) or `http://localhost:4318/v1/<signal>` (HTTP).
    public static func defaultEndpoint(for protocol: OTLPProtocol, signal: TelemetrySignal) -> String {
        `protocol` == .grpc ? "http://localhost:4317" : "http://localhost:4318/\(signal.httpPath)"
    }

    /// A configuration with the spec's defaults; `endpoint` defaults per `protocol` and `signal`.
    public init(
        signal: TelemetrySignal,
        protocol: OTLPProtocol = OTLPExporterConfiguration.defaultProtocol,
        endpoint: String? = nil,
        headers: [String: String] = [:],
        timeout: Duration = OTLPExporterConfiguration.defaultTimeout,
        compression: OTLPCompression = .none,
        tls: OTLPTLSConfiguration = OTLPTLSConfiguration(),
        retry: OTLPRetryPolicy = .default
    ) {
        self.signal = signal
        self.protocol = `protocol`
        self.endpoint = endpoint ?? Self.defaultEndpoint(for: `protocol`, signal: signal)
        self.headers = headers
        self.timeout = timeout
        self.compression = compression
        self.tls = tls
        self.retry = retry
    }

    /// The endpoint, parsed.
    /// - Throws: ``OTLPConfigurationError`` (`.invalidEndpoint`) when it is not a usable URL.
    public func parsedEndpoint() throws(OTLPConfigurationError) -> OTLPEndpoint {
        try OTLPEndpoint(parsing: endpoint)
    }

    /// Whether the connection uses TLS: `https` → yes, `http` → no, no scheme (gRPC `host:port`) →
    /// yes unless ``OTLPTLSConfiguration/insecure`` is set.
    public func usesTLS() throws(OTLPConfigurationError) -> Bool {
        let parsed = try parsedEndpoint()
        switch parsed.scheme {
        case .https: return true
        case .http: return false
        case nil: return !tls.insecure
        }
    }

    /// Checks everything that can be checked without touching the network or the file system:
    /// the endpoint parses (and has a scheme for OTLP/HTTP), header names are HTTP tokens and
    /// values contain no control characters, the timeout is positive, the retry policy is valid.
    /// - Throws: the first ``OTLPConfigurationError`` found.
    public func validate() throws(OTLPConfigurationError) {
        let parsed = try parsedEndpoint()
        if `protocol`.isHTTP && parsed.scheme == nil {
            throw OTLPConfigurationError(
                code: .invalidEndpoint,
                message: "OTLP/HTTP endpoint '\(endpoint)' needs an http:// or https:// scheme"
            )
        }
        for (name, value) in headers {
            if let reason = HeaderRules.nameProblem(name) {
                throw OTLPConfigurationError(code: .invalidHeader, message: "header name '\(name)': \(reason)")
            }
            if let reason = HeaderRules.valueProblem(value) {
                throw OTLPConfigurationError(code: .invalidHeader, message: "header '\(name)': \(reason)")
            }
        }
        if timeout <= .zero {
            throw OTLPConfigurationError(code: .invalidValue, message: "timeout \(timeout) is not positive")
        }
        try retry.validate()
    }
}

extension OTLPExporterConfiguration {
    /// This configuration with one export, its retries included, bounded by `exportTimeout` (the
    /// batch processors' `OTEL_BSP_EXPORT_TIMEOUT` / `OTEL_BLRP_EXPORT_TIMEOUT`,
    /// `OTEL_METRIC_EXPORT_TIMEOUT`): each attempt is bounded by `min(timeout, exportTimeout)` and
    /// a retry is only started while it could still finish in time (the retry policy's
    /// `maxElapsedTime` becomes at most `exportTimeout` minus one attempt's timeout; no retries
    /// when one attempt may take the whole budget).
    public func boundingExport(by exportTimeout: Duration) -> OTLPExporterConfiguration {
        guard exportTimeout > .zero else { return self }
        var bounded = self
        bounded.timeout = min(timeout, exportTimeout)
        bounded.retry.maxElapsedTime = min(retry.maxElapsedTime, max(.zero, exportTimeout - bounded.timeout))
        return bounded
    }
}

/// A parsed endpoint URL: `scheme://host[:port][/path]`, or `host:port` for gRPC.
public struct OTLPEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// URL scheme.
    public enum Scheme: String, Sendable, Hashable {
        case http
        case https
    }

    /// `nil` for a scheme-less gRPC `host:port` endpoint.
    public var scheme: Scheme?
    /// Host name or IP address; an IPv6 address without its brackets.
    public var host: String
    /// The port given, else 80 for http and 443 for https; `nil` only when neither is known.
    public var port: Int?
    /// The path, starting with `/` (just `/` when none was given). Query strings are kept in it.
    public var path: String

    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let p = port.map { ":\($0)" } ?? ""
        if let scheme { return "\(scheme.rawValue)://\(h)\(p)\(path)" }
        return "\(h)\(p)"
    }

    /// Parses `url`.
    /// - Throws: ``OTLPConfigurationError`` (`.invalidEndpoint`) with the reason.
    public init(parsing url: String) throws(OTLPConfigurationError) {
        func fail(_ reason: String) -> OTLPConfigurationError {
            OTLPConfigurationError(code: .invalidEndpoint, message: "endpoint '\(url)': \(reason)")
        }
        if url.isEmpty { throw fail("empty") }
        if url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }) {
            throw fail("contains spaces, control or non-ASCII characters")
        }
        var rest = Substring(url)
        if let range = rest.range(of: "://") {
            let schemeText = rest[..<range.lowerBound].lowercased()
            guard let scheme = Scheme(rawValue: schemeText) else {
                throw fail("unsupported scheme '\(schemeText)' (use http or https)")
            }
            self.scheme = scheme
            rest = rest[range.upperBound...]
        } else {
            self.scheme = nil
        }
        let authority: Substring
        if let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) {
            authority = rest[..<slash]
            let tail = rest[slash...]
            path = tail.first == "?" ? "/" + tail : String(tail)
        } else {
            authority = rest
            path = "/"
        }
        if scheme == nil && path != "/" {
            throw fail("a path needs an http:// or https:// scheme")
        }
        if authority.contains("@") { throw fail("user information is not supported") }
        var hostPart: Substring
        var portPart: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { throw fail("unclosed '[' in IPv6 host") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else { throw fail("unexpected text after IPv6 host") }
                portPart = after.dropFirst()
            }
            if hostPart.isEmpty || !hostPart.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) {
                throw fail("invalid IPv6 host")
            }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                hostPart = authority[..<colon]
                portPart = authority[authority.index(after: colon)...]
            } else {
                hostPart = authority
            }
            if hostPart.contains(":") { throw fail("an IPv6 host must be in brackets") }
            let allowed: (Character) -> Bool = { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" }
            if hostPart.isEmpty { throw fail("no host") }
            if !hostPart.allSatisfy(allowed) { throw fail("invalid host '\(hostPart)'") }
        }
        host = String(hostPart)
        if let portPart {
            guard !portPart.isEmpty, portPart.count <= 5, portPart.allSatisfy({ $0.isASCII && $0.isNumber }),
                let number = Int(portPart), (1...65535).contains(number)
            else { throw fail("invalid port '\(portPart)'") }
            port = number
        } else {
            switch scheme {
            case .http: port = 80
            case .https: port = 443
            case nil: throw fail("a gRPC endpoint without a scheme needs a port (host:port)")
            }
        }
    }
}

/// A configuration error: an extensible ``Code`` plus a message saying what is wrong.
public struct OTLPConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of configuration problem this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: String, Sendable, Hashable {
            case invalidEndpoint, invalidHeader, invalidValue, incompleteClientIdentity, invalidRetryPolicy
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The endpoint is not a usable URL.
        public static let invalidEndpoint = Code(.invalidEndpoint)
        /// A header name or value is not allowed in HTTP.
        public static let invalidHeader = Code(.invalidHeader)
        /// A value is out of range or cannot be parsed.
        public static let invalidValue = Code(.invalidValue)
        /// Only one of client certificate and client key was given.
        public static let incompleteClientIdentity = Code(.incompleteClientIdentity)
        /// A retry policy value is out of range.
        public static let invalidRetryPolicy = Code(.invalidRetryPolicy)

        public var description: String { wrapped.rawValue }
    }

    /// The kind of problem.
    public var code: Code
    /// What is wrong, in words.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "configuration error (\(code)): \(message)" }
}

/// HTTP header name and value rules (RFC 9110 §5.1 token, §5.5 field value).
enum HeaderRules {
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// `nil` when `name` is a valid field name, else the reason.
    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "empty name" }
        if !name.utf8.allSatisfy(isTokenCharacter) { return "not an HTTP token" }
        return nil
    }

    /// `nil` when `value` is a valid field value, else the reason.
    static func valueProblem(_ value: String) -> String? {
        for byte in value.utf8 where (byte < 0x20 && byte != 0x09) || byte == 0x7F {
            return "value contains a control character (0x\(String(byte, radix: 16)))"
        }
        return nil
    }
}
