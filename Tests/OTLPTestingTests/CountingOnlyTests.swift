// A collector that keeps counts only validates binary requests and counts their items without
// decoding them: it must count and answer exactly as the decoding path does.
import HTTP2Transport
import HTTPTransportCore
import OTLPProto
import Testing
@testable import OTLPTesting

@Suite struct CountingOnlyTests {
    /// Length-delimited field `number` holding `content`.
    static func ld(_ number: UInt8, _ content: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        var v = content.count
        while v >= 0x80 { length.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        length.append(UInt8(v))
        return [number << 3 | 2] + length + content
    }

    /// A metrics request whose one metric sets its `data` oneof four times: gauge (2 points), sum
    /// (1), sum again (2 more, merged into the sum), then histogram (1), then histogram (1 more).
    static let oneofSetFourTimes: [UInt8] = {
        let point = ld(9, [])  // a data point with one empty attribute: any content will do
        let metric = ld(1, Array("m".utf8))
            + ld(5, ld(1, point) + ld(1, point))  // gauge
            + ld(7, ld(1, point))  // sum
            + ld(7, ld(1, point) + ld(1, point))  // sum, merged
            + ld(9, ld(1, point))  // histogram replaces the sum
            + ld(9, ld(1, point))  // histogram, merged
        return ld(1, ld(2, ld(2, metric)))
    }()

    static func requests() -> [(OTLPTestCollector.Signal, [UInt8])] {
        var twoResources = Fixtures.traces(["a", "b", "c"])
        twoResources.resourceSpans.append(contentsOf: Fixtures.traces(["d", "e"]).resourceSpans)
        twoResources.resourceSpans[1].scopeSpans.append(contentsOf: Fixtures.traces(["f"]).resourceSpans[0].scopeSpans)
        var metrics = Fixtures.metrics(name: "requests", values: [1, 2, 3])
        metrics.resourceMetrics.append(contentsOf: Fixtures.metrics(name: "bytes", values: [4]).resourceMetrics)
        return [
            (.traces, twoResources.serializedBytes()),
            (.traces, []),
            (.metrics, metrics.serializedBytes()),
            (.metrics, oneofSetFourTimes),
            (.logs, Fixtures.logs(["x", "y"]).serializedBytes()),
        ]
    }

    func grpc(_ signal: OTLPTestCollector.Signal, _ body: [UInt8]) -> HTTPServerRequest {
        HTTPServerRequest(method: "POST", path: signal.grpcPath, headers: [HTTPField("content-type", "application/grpc")],
                          body: Fixtures.grpcFrame(body))
    }

    func http(_ signal: OTLPTestCollector.Signal, _ body: [UInt8]) -> HTTPServerRequest {
        HTTPServerRequest(method: "POST", path: signal.httpPath, headers: [HTTPField("content-type", "application/x-protobuf")],
                          body: body, httpProtocol: .http1)
    }

    @Test func countsAreTheDecodedRequestsItemCounts() throws {
        for (signal, body) in Self.requests() {
            for request in [grpc(signal, body), http(signal, body)] {
                let decoded = OTLPReceiver.handle(request, fault: nil, maxMessageBytes: 1 << 20)
                let counted = OTLPReceiver.handle(request, fault: nil, maxMessageBytes: 1 << 20, countsOnly: true)
                let payload = try #require(decoded.accepted?.payload)
                #expect(counted.accepted == nil && !counted.rejected && counted.signal == signal)
                #expect(counted.countedItems == payload.itemCount, "\(signal) \(request.path)")
                #expect(counted.response.body == decoded.response.body && counted.response.trailers == decoded.response.trailers)
            }
        }
        // The oneof case, spelled out: the last member set (histogram) with its merged points.
        let decoded = try CollectorMetricsV1ExportMetricsServiceRequest(serializedBytes: Self.oneofSetFourTimes)
        #expect(decoded.resourceMetrics[0].scopeMetrics[0].metrics[0].pointCount == 2)
    }

    @Test func malformedBodiesAreRejectedAsTheDecodingPathRejectsThem() {
        let valid = Fixtures.traces(["a", "b"]).serializedBytes()
        var generator = UInt64(0x9E37_79B9_7F4A_7C15)
        var cases: [[UInt8]] = (0..<valid.count).map { Array(valid.prefix($0)) }
        for _ in 0..<500 {
            var mutated = valid
            generator = generator &* 6364136223846793005 &+ 1442695040888963407
            mutated[Int(generator >> 33) % mutated.count] = UInt8(truncatingIfNeeded: generator >> 13)
            cases.append(mutated)
        }
        var rejected = 0
        for body in cases {
            for request in [grpc(.traces, body), http(.traces, body)] {
                let decoded = OTLPReceiver.handle(request, fault: nil, maxMessageBytes: 1 << 20)
                let counted = OTLPReceiver.handle(request, fault: nil, maxMessageBytes: 1 << 20, countsOnly: true)
                #expect(decoded.rejected == counted.rejected, "\(body)")
                #expect(decoded.response.status == counted.response.status)
                if !decoded.rejected { #expect(counted.countedItems == decoded.accepted?.payload.itemCount) }
                if decoded.rejected { rejected += 1 }
            }
        }
        #expect(rejected > 0 && rejected < cases.count * 2)
    }

    @Test func aCollectorKeepingCountsOnlyCountsWhatAKeepingCollectorCounts() async throws {
        let keeping = try await OTLPTestCollector.start()
        let counting = try await OTLPTestCollector.start(configuration: OTLPTestCollector.Configuration(keepsRequests: false, countsDuplicates: false))
        for collector in [keeping, counting] {
            for (signal, body) in Self.requests() {
                #expect(collector.handle(grpc(signal, body)).status == 200)
                #expect(collector.handle(http(signal, body)).status == 200)
            }
        }
        #expect(keeping.counters.spans == 12 && keeping.counters.metricPoints == 12 && keeping.counters.logRecords == 4)
        // Every request went in twice (gRPC and OTLP/HTTP): the keeping collector counts the
        // second ones as duplicates, the counting one counts no duplicates.
        var expected = keeping.counters
        #expect(expected.duplicates > 0)
        expected.duplicateSpans = 0
        expected.duplicateMetricPoints = 0
        expected.duplicateLogRecords = 0
        #expect(counting.counters == expected)
        await keeping.stop()
        await counting.stop()
    }
}

/// The server reuses request-body buffers on a connection: bodies of falling and rising sizes
/// sent one after the other on one connection each arrive exactly as sent.
@Suite struct BodyBufferReuseTests {
    @Test func bodiesOfChangingSizesOnOneConnectionArriveExactlyAsSent() async throws {
        let collector = try await OTLPTestCollector.start(http: false)
        let client = try GRPCClient(configuration: HTTP2ClientConfiguration(
            endpoint: Endpoint(host: "127.0.0.1", port: try #require(collector.grpcPort), useTLS: false)))
        var expected: [String] = []
        // About 150 KB, 30 KB, 90 KB, 20 KB and 150 KB again: each over the size below which
        // bodies are not reused, and each later one fitting a spare buffer or not.
        for (round, count) in [3000, 600, 1800, 400, 3000].enumerated() {
            let names = (0..<count).map { "r\(round)-span-\($0)" }
            expected += names
            let result = try await client.unary(path: OTLPTestCollector.Signal.traces.grpcPath,
                                                message: Fixtures.traces(names).serializedBytes(), timeout: .seconds(60)).get()
            #expect(result.code == .ok)
        }
        client.shutdown()
        #expect(collector.spans.map(\.span.name) == expected)
        #expect(collector.counters.requests == 5)
        await collector.stop()
    }
}
