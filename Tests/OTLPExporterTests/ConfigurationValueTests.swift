import Testing
@testable import OTLPExporter

@Suite("OTLP configuration values")
struct ConfigurationValueTests {
    @Test func clientCertificateAndKeyMustComeTogether() throws {
        #expect(throws: OTLPConfigurationError.self) {
            try OTLPTLSConfiguration(caCertificateFile: nil, clientCertificateFile: "/c.pem", clientKeyFile: nil)
        }
        do {
            _ = try OTLPTLSConfiguration(caCertificateFile: nil, clientCertificateFile: nil, clientKeyFile: "/k.pem")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .incompleteClientIdentity)
        }
        let tls = try OTLPTLSConfiguration(caCertificateFile: "/ca", clientCertificateFile: "/c", clientKeyFile: "/k")
        #expect(tls.clientIdentity == .init(certificateFile: "/c", privateKeyFile: "/k"))
        #expect(tls.caCertificateFile == "/ca")
    }

    @Test func retryBackoffGrowsByMultiplierUpToTheCap() {
        let p = OTLPRetryPolicy.default
        #expect(p.nominalBackoff(retry: 1) == .seconds(5))
        #expect(p.nominalBackoff(retry: 2) == .seconds(7.5))
        #expect(p.nominalBackoff(retry: 3) == .seconds(11.25))
        #expect(p.nominalBackoff(retry: 6) == .seconds(30))  // 5·1.5^5 = 37.97 → capped
        #expect(p.nominalBackoff(retry: 1_000_000) == .seconds(30))
    }

    @Test func retryJitterSpansPlusMinusFiftyPercent() {
        let p = OTLPRetryPolicy.default
        #expect(p.backoff(retry: 1, unitRandom: 0) == .seconds(2.5))
        #expect(p.backoff(retry: 1, unitRandom: 0.5) == .seconds(5))
        #expect(p.backoff(retry: 1, unitRandom: 1) == .seconds(7.5))
        #expect(p.backoff(retry: 9, unitRandom: 1) == .seconds(45))
        #expect(p.backoff(retry: 1, unitRandom: .nan) == .seconds(5))
    }

    @Test func retryPolicyValidationNamesTheBadValue() {
        #expect(throws: Never.self) { try OTLPRetryPolicy.default.validate() }
        for (policy, fragment) in [
            (OTLPRetryPolicy(multiplier: 0.5), "multiplier"),
            (OTLPRetryPolicy(jitter: 1.5), "jitter"),
            (OTLPRetryPolicy(initialBackoff: .seconds(60)), "maxBackoff"),
            (OTLPRetryPolicy(maxElapsedTime: .seconds(-1)), "maxElapsedTime"),
        ] {
            do {
                try policy.validate()
                Issue.record("expected \(fragment) to be rejected")
            } catch {
                #expect(error.code == .invalidRetryPolicy)
                #expect(error.message.contains(fragment))
            }
        }
    }

    @Test func endpointParsing() throws {
        let a = try OTLPEndpoint(parsing: "https://collector.example.com:4318/v1/traces")
        #expect(a.scheme == .https)
        #expect(a.host == "collector.example.com")
        #expect(a.port == 4318)
        #expect(a.path == "/v1/traces")
        let b = try OTLPEndpoint(parsing: "http://localhost")
        #expect(b.port == 80)
        #expect(b.path == "/")
        #expect(try OTLPEndpoint(parsing: "HTTPS://h").port == 443)
        let c = try OTLPEndpoint(parsing: "[::1]:4317")
        #expect(c.scheme == nil)
        #expect(c.host == "::1")
        #expect(c.port == 4317)
        #expect(c.description == "[::1]:4317")
        let d = try OTLPEndpoint(parsing: "http://[fe80::1]:8080/x?y=1")
        #expect(d.host == "fe80::1")
        #expect(d.path == "/x?y=1")
    }

    @Test(arguments: [
        "", "localhost", "grpc://h:1", "http://", "http://h:0", "http://h:65536", "http://h:12ab",
        "http://user@h:1", "http://h h:1", "[::1", "::1:4317", "h:4317/path", "http://é:1",
    ])
    func invalidEndpointsAreRejectedWithTypedError(_ text: String) {
        do {
            _ = try OTLPEndpoint(parsing: text)
            Issue.record("'\(text)' was accepted")
        } catch {
            #expect(error.code == .invalidEndpoint)
            #expect(error.message.contains("endpoint '\(text)'"))
        }
    }

    @Test func validateChecksHeadersTimeoutAndSchemes() throws {
        try OTLPExporterConfiguration(signal: .traces).validate()
        var c = OTLPExporterConfiguration(signal: .traces, headers: ["bad name": "x"])
        #expect(throws: OTLPConfigurationError.self) { try c.validate() }
        c = OTLPExporterConfiguration(signal: .traces, headers: ["ok": "line\nbreak"])
        #expect(throws: OTLPConfigurationError.self) { try c.validate() }
        c = OTLPExporterConfiguration(signal: .traces, timeout: .zero)
        #expect(throws: OTLPConfigurationError.self) { try c.validate() }
        c = OTLPExporterConfiguration(signal: .traces, protocol: .httpJSON, endpoint: "host:4318")
        #expect(throws: OTLPConfigurationError.self) { try c.validate() }
        c = OTLPExporterConfiguration(signal: .traces, protocol: .grpc, endpoint: "host:4317")
        try c.validate()
        #expect(try c.usesTLS())
    }

    @Test func percentDecodingIsStrict() {
        #expect(PercentDecoding.decode("a%20b%2c") == "a b,")
        #expect(PercentDecoding.decode("%E2%82%AC") == "€")
        #expect(PercentDecoding.decode("%") == nil)
        #expect(PercentDecoding.decode("%4") == nil)
        #expect(PercentDecoding.decode("%FF") == nil)  // not UTF-8
        #expect(PercentDecoding.decode("plain") == "plain")
    }
}
