// The receiver's answers, without sockets.
import HTTP2Transport
import HTTPTransportCore
import OTLPProto
import Testing
@testable import OTLPTesting

@Suite struct OTLPReceiverTests {
    func grpcRequest(_ signal: OTLPTestCollector.Signal, _ body: [UInt8], headers: [HTTPField] = []) -> HTTPServerRequest {
        HTTPServerRequest(method: "POST", path: signal.grpcPath, headers: [HTTPField("content-type", "application/grpc")] + headers, body: body)
    }

    func trailer(_ response: HTTPServerResponse, _ name: String) -> String? {
        (response.trailers + response.headers).first { $0.name == name }?.value
    }

    @Test func retryInfoFaultCarriesTheDelayInStatusDetails() throws {
        let outcome = OTLPReceiver.handle(grpcRequest(.traces, Fixtures.grpcFrame([])),
                                          fault: .grpcStatus(.unavailable, message: "busy 100%", retryDelay: .milliseconds(1500)),
                                          maxMessageBytes: 1 << 20)
        #expect(outcome.rejected && outcome.accepted == nil && outcome.signal == .traces)
        #expect(trailer(outcome.response, "grpc-status") == "14")
        #expect(trailer(outcome.response, "grpc-message") == "busy 100%25")
        let details = try #require(trailer(outcome.response, "grpc-status-details-bin"))
        let expected = RPCStatus.encode(code: .unavailable, message: "busy 100%", retryDelay: .milliseconds(1500))
        #expect(details == OTLPReceiver.base64Encode(expected))
        // RetryInfo { retry_delay { seconds: 1, nanos: 500000000 } } inside Any inside Status.details.
        let duration: [UInt8] = [0x08, 0x01, 0x10, 0x80, 0xCA, 0xB5, 0xEE, 0x01]  // nanos: a 5-byte varint
        #expect(expected.suffix(duration.count) == duration[...])
    }

    @Test(arguments: [(GRPCStatusCode.unavailable, 503), (.resourceExhausted, 429), (.invalidArgument, 400), (.internalError, 500)])
    func grpcStatusFaultsMapToHTTPStatusesWithRetryAfter(code: GRPCStatusCode, status: Int) {
        let request = HTTPServerRequest(method: "POST", path: "/v1/logs", headers: [HTTPField("content-type", "application/x-protobuf")])
        let outcome = OTLPReceiver.handle(request, fault: .grpcStatus(code, retryDelay: .milliseconds(1200)), maxMessageBytes: 1024)
        #expect(outcome.response.status == status)
        #expect(outcome.response.headers.contains(HTTPField("retry-after", "2")))
    }

    @Test func gRPCFramingErrorsAreStatusesNotCrashes() {
        let valid = Fixtures.traces(["a"]).serializedBytes()
        let cases: [([UInt8], [HTTPField], GRPCStatusCode)] = [
            ([0, 0, 0], [], .internalError),
            ([0, 0, 0, 0, 9, 1], [], .internalError),
            (Fixtures.grpcFrame(valid) + Fixtures.grpcFrame(valid), [], .internalError),
            ([2] + Fixtures.grpcFrame(valid).dropFirst(), [], .internalError),
            (Fixtures.grpcFrame(valid, compressed: true), [HTTPField("grpc-encoding", "snappy")], .unimplemented),
            (Fixtures.grpcFrame(valid, compressed: true), [HTTPField("grpc-encoding", "gzip")], .internalError),
            ([0, 0xFF, 0xFF, 0xFF, 0xFF], [], .resourceExhausted),
        ]
        for (body, headers, code) in cases {
            let outcome = OTLPReceiver.handle(grpcRequest(.traces, body, headers: headers), fault: nil, maxMessageBytes: 1 << 20)
            #expect(trailer(outcome.response, "grpc-status") == String(code.rawValue), "\(body.prefix(8)) \(headers)")
            #expect(outcome.rejected)
        }
        let ok = OTLPReceiver.handle(grpcRequest(.traces, Fixtures.grpcFrame(valid)), fault: nil, maxMessageBytes: 1 << 20)
        #expect(!ok.rejected && ok.accepted?.payload == .traces(Fixtures.traces(["a"])))
    }

    @Test func partialSuccessIsInTheResponseOfEitherEncoding() throws {
        let request = HTTPServerRequest(method: "POST", path: "/v1/metrics", headers: [HTTPField("content-type", "application/json; charset=utf-8")],
                                        body: Fixtures.metrics(name: "m", values: [1]).jsonBytes())
        let outcome = OTLPReceiver.handle(request, fault: .partialSuccess(rejected: 3, message: "three"), maxMessageBytes: 1 << 20)
        #expect(outcome.response.status == 200 && outcome.accepted?.encoding == .httpJSON)
        let response = try CollectorMetricsV1ExportMetricsServiceResponse(jsonBytes: outcome.response.body)
        #expect(response.partialSuccess?.rejectedDataPoints == 3 && response.partialSuccess?.errorMessage == "three")
    }
}
