import Foundation
import Telemetry
import OTLPSync
import Testing

/// A clock that returns what the test sets.
final class ManualClock: TelemetryClock, @unchecked Sendable {
    private let lock = NSLock()
    private var now: UInt64
    init(_ start: UInt64 = 1_700_000_000_000_000_000) { now = start }
    func nowUnixNano() -> UInt64 { lock.withLock { now } }
    func advance(by nanoseconds: UInt64) { lock.withLock { now += nanoseconds } }
}

/// Runs `body(thread)` on `count` OS threads at once and returns when all are done.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for thread in 0..<count {
        group.enter()
        Thread.detachNewThread {
            body(thread)
            group.leave()
        }
    }
    group.wait()
}

func makeProvider(
    spans: InMemorySpanExporter = InMemorySpanExporter(), metrics: InMemoryMetricExporter = InMemoryMetricExporter(),
    logs: InMemoryLogExporter = InMemoryLogExporter(), sampler: Sampler = .default,
    limits: AttributeLimits = AttributeLimits(), spanAttributes: [Attribute] = [], clock: ManualClock = ManualClock(),
    configure: (inout PipelineConfiguration) -> Void = { _ in }
) -> TelemetryProvider {
    var configuration = PipelineConfiguration()
    configuration.clock = clock
    configure(&configuration)
    return TelemetryProvider(
        resource: Resource(serviceName: "test-service", serviceVersion: "1.2.3", deploymentEnvironment: "test"),
        spanExporters: [spans], metricExporters: [metrics], logExporters: [logs], configuration: configuration,
        sampler: sampler, limits: limits, spanAttributes: spanAttributes)
}

@Suite("Tracer")
struct TracerTests {
    @Test("an ended span reaches the exporter with its attributes, kind, status, events and times")
    func spanRoundTrip() async throws {
        let exporter = InMemorySpanExporter()
        let clock = ManualClock()
        let provider = makeProvider(spans: exporter, clock: clock)
        let tracer = provider.tracer("tests", version: "0.1")
        var span = tracer.startSpan("request", kind: .server, attributes: ["http.method": "GET"])
        span.setAttribute("int", 42)
        span.setAttribute("double", 1.5)
        span.setAttribute("bool", true)
        span.setAttribute("strings", .stringArray(["a", "b"]))
        span.setAttribute("ints", .intArray([1, 2]))
        span.setAttribute("doubles", .doubleArray([0.5]))
        span.setAttribute("bools", .boolArray([true, false]))
        span.setAttribute("bytes", .bytes([1, 2, 3]))
        span.setAttribute("int", 43)  // replaces
        clock.advance(by: 1_000)
        span.addEvent("cache miss", attributes: ["key": "k1"])
        span.setStatus(.error(description: "boom"))
        clock.advance(by: 2_000)
        let context = span.context
        span.end()
        try await provider.forceFlush(timeout: .seconds(10))
        let exported = exporter.spans
        #expect(exported.count == 1)
        let data = try #require(exported.first)
        #expect(data.name == "request")
        #expect(data.kind == .server)
        #expect(data.context == context)
        #expect(data.context.isSampled)
        #expect(data.parentSpanID == nil)
        #expect(data.endTimeUnixNano - data.startTimeUnixNano == 3_000)
        #expect(data.attributes.count == 9)
        #expect(data.attributes.first(where: { $0.key == "int" })?.value == .int(43))
        #expect(data.events.map(\.name) == ["cache miss"])
        #expect(data.events.first?.timeUnixNano == data.startTimeUnixNano + 1_000)
        #expect(data.status == .error(description: "boom"))
        #expect(data.scope.name == "tests" && data.scope.version == "0.1")
        #expect(exporter.batches.first?.resource["service.name"] == .string("test-service"))
        #expect(exporter.batches.first?.resource["deployment.environment"] == .string("test"))
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("withSpan makes the span current: children get its trace id and parent span id")
    func currentParent() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter)
        let tracer = provider.tracer("tests")
        var outerContext: SpanContext?
        tracer.withSpan("outer") { outer in
            outerContext = outer.context
            #expect(TraceContext.current == outer.context)
            tracer.withSpan("inner") { _ in }
            var explicitRoot = tracer.startSpan("root", parent: .root)
            explicitRoot.setAttribute("k", "v")
            explicitRoot.end()
        }
        #expect(TraceContext.current == nil)
        try await provider.forceFlush(timeout: .seconds(10))
        let spans = Dictionary(uniqueKeysWithValues: exporter.spans.map { ($0.name, $0) })
        let outer = try #require(spans["outer"])
        let inner = try #require(spans["inner"])
        let root = try #require(spans["root"])
        #expect(outer.context == outerContext)
        #expect(inner.context.traceID == outer.context.traceID)
        #expect(inner.parentSpanID == outer.context.spanID)
        #expect(root.parentSpanID == nil)
        #expect(root.context.traceID != outer.context.traceID)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("a remote parent from traceparent fields is continued, trace state kept")
    func remoteParent() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter)
        let remote = SpanContext(
            traceID: try #require(TraceID(hex: "4bf92f3577b34da6a3ce929d0e0e4736")),
            spanID: try #require(SpanID(hex: "00f067aa0ba902b7")), traceFlags: .sampled, traceState: "congo=t61rcWkgMzE",
            isRemote: true)
        await withCurrentSpanContext(remote) {
            await provider.tracer("t").withSpan("child", kind: .client) { _ in
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        try await provider.forceFlush(timeout: .seconds(10))
        let child = try #require(exporter.spans.first)
        #expect(child.context.traceID.hexString == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(child.parentSpanID?.hexString == "00f067aa0ba902b7")
        #expect(child.context.traceState == "congo=t61rcWkgMzE")
        #expect(!child.context.isRemote)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("a thrown error is recorded as an exception event and error status")
    func errorRecorded() async throws {
        struct Failure: Error {}
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter)
        #expect(throws: Failure.self) {
            try provider.tracer("t").withSpan("failing") { _ in throw Failure() }
        }
        try await provider.forceFlush(timeout: .seconds(10))
        let span = try #require(exporter.spans.first)
        #expect(span.events.first?.name == "exception")
        if case .error = span.status {} else { Issue.record("status is \(span.status)") }
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("attribute count, value length, event and link limits drop and count the excess")
    func limits() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(
            spans: exporter,
            limits: AttributeLimits(attributeCountLimit: 3, attributeValueLengthLimit: 4, eventCountLimit: 1, linkCountLimit: 1))
        var span = provider.tracer("t").startSpan("limited")
        for index in 0..<5 { span.setAttribute("k\(index)", .string("abcdefgh")) }
        span.setAttribute("k0", .stringArray(["123456", "12"]))  // replaces, not dropped
        span.addEvent("e1")
        span.addEvent("e2")
        let other = SpanContext(traceID: TraceID(high: 1, low: 2), spanID: SpanID(3))
        span.addLink(other, attributes: ["a": 1, "b": 2, "c": 3, "d": 4])
        span.addLink(other)
        span.end()
        try await provider.forceFlush(timeout: .seconds(10))
        let data = try #require(exporter.spans.first)
        #expect(data.attributes.count == 3)
        #expect(data.droppedAttributesCount == 2)
        #expect(data.attributes.first(where: { $0.key == "k1" })?.value == .string("abcd"))
        #expect(data.attributes.first(where: { $0.key == "k0" })?.value == .stringArray(["1234", "12"]))
        #expect(data.events.count == 1 && data.droppedEventsCount == 1)
        #expect(data.links.count == 1 && data.droppedLinksCount == 1)
        #expect(data.links.first?.droppedAttributesCount == 1)
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("provider span attributes are applied to every span")
    func providerSpanAttributes() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter, spanAttributes: ["env.region": "eu"])
        provider.tracer("t").withSpan("a") { _ in }
        provider.tracer("u").withSpan("b", attributes: ["x": 1]) { _ in }
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(exporter.spans.count == 2)
        for span in exporter.spans {
            #expect(span.attributes.contains(Attribute("env.region", "eu")))
        }
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("always-off exports nothing; parent-based follows the parent's sampled flag")
    func samplers() async throws {
        let exporter = InMemorySpanExporter()
        let off = makeProvider(spans: exporter, sampler: .alwaysOff)
        var span = off.tracer("t").startSpan("dropped")
        let recording = span.isRecording
        let context = span.context
        #expect(!recording)
        #expect(context.isValid && !context.isSampled)
        span.setAttribute("ignored", 1)
        span.end()
        try await off.forceFlush(timeout: .seconds(10))
        #expect(exporter.spans.isEmpty)
        try await off.shutdown(timeout: .seconds(10))

        let unsampledParent = SpanContext(traceID: TraceID(high: 9, low: 9), spanID: SpanID(9), traceFlags: [], isRemote: true)
        let sampledParent = SpanContext(traceID: TraceID(high: 8, low: 8), spanID: SpanID(8), traceFlags: .sampled, isRemote: true)
        let parentBased = Sampler.parentBased(root: .alwaysOff)
        #expect(parentBased.shouldSample(parent: unsampledParent, traceID: unsampledParent.traceID) == .drop)
        #expect(parentBased.shouldSample(parent: sampledParent, traceID: sampledParent.traceID) == .recordAndSample)
        #expect(parentBased.shouldSample(parent: nil, traceID: TraceID(high: 1, low: 1)) == .drop)
    }

    @Test("trace-id ratio samples about the configured fraction, deterministically per trace id")
    func ratioSampler() {
        let sampler = Sampler.traceIDRatio(0.25)
        var sampled = 0
        let total = 20_000
        for _ in 0..<total where sampler.shouldSample(parent: nil, traceID: IDGenerator.traceID()) == .recordAndSample {
            sampled += 1
        }
        let fraction = Double(sampled) / Double(total)
        #expect(fraction > 0.22 && fraction < 0.28, "sampled fraction \(fraction)")
        let id = TraceID(high: 1, low: 0x0000_0000_0000_0001)
        #expect(sampler.shouldSample(parent: nil, traceID: id) == .recordAndSample)
        #expect(sampler.shouldSample(parent: nil, traceID: TraceID(high: 1, low: 0x00FF_FFFF_FFFF_FFFF)) == .drop)
        #expect(Sampler.traceIDRatio(0).shouldSample(parent: nil, traceID: id) == .drop)
        #expect(Sampler.traceIDRatio(1).shouldSample(parent: nil, traceID: id) == .recordAndSample)
    }

    @Test("a span dropped without end() is ended once; an ended span is exported once")
    func spanEndsOnceAtScopeExit() async throws {
        let exporter = InMemorySpanExporter()
        let provider = makeProvider(spans: exporter)
        let tracer = provider.tracer("t")
        do {
            var forgotten = tracer.startSpan("forgotten")
            forgotten.setAttribute("k", 1)
        }
        do {
            let ended = tracer.startSpan("ended")
            ended.end()
        }
        try await provider.forceFlush(timeout: .seconds(10))
        #expect(exporter.spans.map(\.name).sorted() == ["ended", "forgotten"])
        #expect(exporter.spans.allSatisfy { $0.endTimeUnixNano >= $0.startTimeUnixNano && $0.endTimeUnixNano > 0 })
        try await provider.shutdown(timeout: .seconds(10))
    }

    @Test("ids are valid, distinct and round-trip through hex")
    func identifiers() {
        var seen = Set<UInt64>()
        for _ in 0..<10_000 { seen.insert(IDGenerator.spanID().value) }
        #expect(seen.count == 10_000)
        let trace = IDGenerator.traceID()
        #expect(TraceID(hex: trace.hexString) == trace)
        #expect(TraceID(bytes: trace.bytes) == trace)
        #expect(TraceID(hex: "xyz") == nil)
        #expect(SpanID(hex: "00f067aa0ba902b7")?.bytes == [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7])
    }

    @Test func idsDrawnOnManyThreadsAreDistinctAndValid() {
        // Each thread steps its own generator from its own random start.
        let threads = 6, perThread = 20_000
        let drawn = LockedValue<[[UInt64]]>([])
        onThreads(threads) { _ in
            var ids: [UInt64] = []
            ids.reserveCapacity(perThread * 3)
            for _ in 0..<perThread {
                let (trace, span) = IDGenerator.traceAndSpanID()
                ids += [trace.high, trace.low, span.value]
            }
            drawn.withLock { $0.append(ids) }
        }
        let all = drawn.withLock { $0.flatMap { $0 } }
        #expect(all.count == threads * perThread * 3)
        #expect(Set(all).count == all.count)
        #expect(!all.contains(0))
    }
}
