import Testing
@testable import Telemetry

@Suite("W3C traceparent and trace context propagation")
struct TraceContextTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func parsesAndFormatsVersion00() throws {
        let p = try W3CTraceParent(parsing: Self.valid)
        #expect(p.version == 0)
        #expect(p.traceID.hex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(p.traceID.high == 0x4bf9_2f35_77b3_4da6)
        #expect(p.parentID.value == 0x00f0_67aa_0ba9_02b7)
        #expect(p.parentID.bytes == [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7])
        #expect(p.sampled)
        #expect(p.headerValue == Self.valid)
        let unsampled = try W3CTraceParent(parsing: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
        #expect(!unsampled.sampled)
        #expect(try W3CTraceParent(parsing: "  \(Self.valid)\t").headerValue == Self.valid)
    }

    @Test(arguments: [
        ("", "version"),
        ("0", "version"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "too short"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", "exactly 55"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010", "exactly 55"),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff"),
        ("0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace id is all zeros"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent id is all zeros"),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "trace id is not"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", "parent id is not"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", "flags"),
        ("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "separated"),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", "separated"),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", "future version"),
    ])
    func invalidTraceparentIsRejectedWithReason(_ input: String, _ fragment: String) {
        do {
            _ = try W3CTraceParent(parsing: input)
            Issue.record("'\(input)' was accepted")
        } catch {
            #expect(error.code == .invalidTraceparent)
            #expect(error.reason.contains(fragment), "\(error.reason)")
        }
    }

    @Test func futureVersionIsParsedAndPropagatedAsVersion00() throws {
        let longer = try W3CTraceParent(parsing: "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds")
        #expect(longer.version == 0xcc)
        #expect(longer.sampled)
        #expect(longer.flags.rawValue == 0x09)
        // Unknown flag bit 0x08 is not propagated; sampled is.
        #expect(longer.headerValue == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        let same = try W3CTraceParent(parsing: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")
        #expect(same.headerValue == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")  // random flag kept
    }

    @Test func constructingWithZeroIDsThrows() throws {
        #expect(throws: W3CTraceContextError.self) {
            try W3CTraceParent(traceID: .init(high: 0, low: 0), parentID: .init(1))
        }
        #expect(throws: W3CTraceContextError.self) {
            try W3CTraceParent(traceID: .init(high: 0, low: 1), parentID: .init(0))
        }
        let p = try W3CTraceParent(traceID: .init(high: 1, low: 2), parentID: .init(3), flags: [])
        #expect(p.headerValue == "00-00000000000000010000000000000002-0000000000000003-00")
        #expect(W3CTraceParent.TraceID(hex: "00000000000000010000000000000002") == p.traceID)
        #expect(W3CTraceParent.TraceID(hex: "0000000000000001000000000000000G") == nil)
        #expect(W3CTraceParent.SpanID(hex: "0000000000000003") == p.parentID)
    }

    @Test func injectAndExtractRoundTripThroughHeaderFields() throws {
        let context = W3CTraceContext(
            traceparent: try W3CTraceParent(parsing: Self.valid),
            tracestate: try W3CTraceState(parsing: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"))
        var fields: [(name: String, value: String)] = [("Content-Type", "application/grpc"), ("TraceParent", "stale")]
        context.inject(into: &fields)
        #expect(fields.map(\.name) == ["Content-Type", "traceparent", "tracestate"])
        #expect(W3CTraceContext.extract(from: fields) == context)

        var dict = ["TRACESTATE": "old=1", "x": "y"]
        context.inject(into: &dict)
        #expect(dict == ["x": "y", "traceparent": Self.valid, "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"])
        #expect(W3CTraceContext.extract(from: dict) == context)

        var empty: [String: String] = [:]
        W3CTraceContext(traceparent: context.traceparent).inject(into: &empty)
        #expect(empty == ["traceparent": Self.valid])  // no empty tracestate field
    }

    @Test func extractJoinsTracestateFieldsAndRejectsDuplicateTraceparent() throws {
        let fields: [(name: String, value: String)] = [
            ("traceparent", Self.valid), ("tracestate", "a=1"), ("Tracestate", "b=2"),
        ]
        let context = try #require(W3CTraceContext.extract(from: fields))
        #expect(context.tracestate.headerValue == "a=1,b=2")
        #expect(W3CTraceContext.extract(from: fields + [("traceparent", Self.valid)]) == nil)
        #expect(W3CTraceContext.extract(from: [(name: "tracestate", value: "a=1")]) == nil)
    }

    @Test func invalidTracestateIsDroppedButTraceparentKept() throws {
        let context = try #require(W3CTraceContext.extract(from: ["traceparent": Self.valid, "tracestate": "Bad=1"]))
        #expect(context.tracestate.isEmpty)
        #expect(context.traceparent.headerValue == Self.valid)
    }

    @Test func environmentCarrierWarnsOnInvalidValues() throws {
        let none = W3CTraceContext.fromEnvironment([:])
        #expect(none.context == nil && none.warning == nil)

        let ok = W3CTraceContext.fromEnvironment(["TRACEPARENT": Self.valid, "TRACESTATE": "vendor=x"])
        #expect(ok.warning == nil)
        #expect(try #require(ok.context).tracestate["vendor"] == "x")

        let bad = W3CTraceContext.fromEnvironment(["TRACEPARENT": "00-zz"])
        #expect(bad.context == nil)
        #expect(try #require(bad.warning).contains("TRACEPARENT is invalid"))

        let badState = W3CTraceContext.fromEnvironment(["TRACEPARENT": Self.valid, "TRACESTATE": "=x"])
        #expect(badState.context?.tracestate.isEmpty == true)
        #expect(try #require(badState.warning).contains("TRACESTATE is invalid"))

        let orphan = W3CTraceContext.fromEnvironment(["TRACESTATE": "a=b"])
        #expect(orphan.context == nil)
        #expect(orphan.warning != nil)
    }

    @Test func processEnvironmentIsReadOnceAndStable() {
        // The test process has no TRACEPARENT unless CI sets one; either way two reads agree.
        #expect(W3CTraceContext.processEnvironment == W3CTraceContext.processEnvironment)
        #expect(W3CTraceContext.processEnvironmentWarning == W3CTraceContext.processEnvironmentWarning)
    }
}
