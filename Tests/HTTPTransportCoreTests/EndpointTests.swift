import HTTPTransportCore
import Testing

@Suite("endpoint and configuration")
struct EndpointTests {
    @Test func urlsParseToSchemeHostAndPort() throws {
        #expect(try Endpoint(url: "http://localhost:4317") == Endpoint(host: "localhost", port: 4317, useTLS: false))
        #expect(try Endpoint(url: "https://collector.example/v1") == Endpoint(host: "collector.example", port: 443, useTLS: true))
        #expect(try Endpoint(url: "http://[::1]:4317").host == "::1")
        #expect(try Endpoint(url: "http://[::1]:4317").authority == "[::1]:4317")
        for bad in ["ftp://x", "http://", "http://host:0", "http://host:99999", "http://[::1", "localhost:4317"] {
            #expect(throws: TransportError.self) { try Endpoint(url: bad) }
        }
    }

    @Test func emptyServerNameIsRejectedBecauseOpenSSLWouldSkipTheCheck() {
        var configuration = HTTP2ClientConfiguration(endpoint: Endpoint(host: "h", port: 1, useTLS: true))
        configuration.tls.serverName = ""
        #expect(throws: TransportError.self) { try configuration.validate() }
    }
}
