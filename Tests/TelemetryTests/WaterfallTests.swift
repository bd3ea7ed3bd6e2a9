import OTLPProto
import Testing
import Telemetry

/// The text waterfall of spans (what `otlp demo` draws the start-up phases with).
@Suite("Waterfall")
struct WaterfallTests {
    static let ms: UInt64 = 1_000_000

    @Test func waterfallPlacesBarsByOffsetAndDuration() {
        let spans = [
            WaterfallSpan(name: "root", spanID: "a", parentSpanID: nil, startUnixNano: 0, endUnixNano: 100 * Self.ms, status: .ok),
            WaterfallSpan(name: "late", spanID: "c", parentSpanID: "a", startUnixNano: 50 * Self.ms, endUnixNano: 100 * Self.ms),
            WaterfallSpan(name: "early", spanID: "b", parentSpanID: "a", startUnixNano: 0, endUnixNano: 25 * Self.ms),
            WaterfallSpan(name: "orphan", spanID: "d", parentSpanID: "zz", startUnixNano: 75 * Self.ms, endUnixNano: 100 * Self.ms),
        ]
        let text = Waterfall.render(spans, barWidth: 20, style: .plain)
        #expect(text == """
            startup waterfall: 4 spans, 0–100.0 ms
            root      0.0 ms  100.0 ms  |████████████████████|
              early   0.0 ms   25.0 ms  |█████               |
              late   50.0 ms   50.0 ms  |          ██████████|
            orphan   75.0 ms   25.0 ms  |               █████|

            """)
        #expect(!text.contains("\u{1B}["))
    }

    @Test func waterfallColoursBarsByStatusOnlyInColourStyle() {
        let spans = [
            WaterfallSpan(name: "ok", spanID: "a", parentSpanID: nil, startUnixNano: 0, endUnixNano: 10, status: .ok),
            WaterfallSpan(name: "bad", spanID: "b", parentSpanID: nil, startUnixNano: 0, endUnixNano: 10, status: .error),
        ]
        let text = Waterfall.render(spans, barWidth: 10, style: .colour)
        #expect(text.contains("\u{1B}[32m██████████\u{1B}[0m"))
        #expect(text.contains("\u{1B}[31m██████████\u{1B}[0m"))
        #expect(text.contains("\u{1B}[31m✗ error\u{1B}[0m"))
    }
}

@Suite("Waterfall spans from OTLP")
struct WaterfallSpanFromOTLPTests {
    @Test func aDecodedOTLPSpanKeepsItsHexIdsTimesAndErrorStatus() {
        var span = TraceV1Span()
        span.name = "config_load"
        span.traceId = Array(repeating: 0xAB, count: 16)
        span.spanId = [0, 1, 2, 3, 4, 5, 6, 0xFF]
        span.parentSpanId = []
        span.startTimeUnixNano = 10
        span.endTimeUnixNano = 30
        var status = TraceV1Status()
        status.code = .error
        span.status = status
        let converted = WaterfallSpan(span)
        #expect(converted.traceID == String(repeating: "ab", count: 16))
        #expect(converted.spanID == "00010203040506ff")
        #expect(converted.parentSpanID == nil)
        #expect(converted.startUnixNano == 10 && converted.endUnixNano == 30)
        #expect(converted.status == .error)
    }
}
