import OTLPProto
import OTLPTestSupport
import OTLPWire
import Testing

/// The decoder's allocation savers: reuse of repeated strings and ids within one input, and
/// repeated fields reserved once from a scan of the tags. Each must give exactly the message a
/// plain decode gives, on valid and malformed input, and never make decoding superlinear.
@Suite struct DecodeAllocationTests {
    typealias Traces = CollectorTraceV1ExportTraceServiceRequest
    typealias Metrics = CollectorMetricsV1ExportMetricsServiceRequest
    typealias Logs = CollectorLogsV1ExportLogsServiceRequest

    static let fresh = ProtoDecodingOptions(reusesRepeatedValues: false)

    /// `count` bytes of `filler` with `byte` at `offset`: equal-length strings that the reuse
    /// table's hash (three 8-byte words: start, middle, end) cannot tell apart when `offset` lies
    /// outside those words (for 40 bytes: 8..<16 and 24..<32).
    static func sameHash(_ byte: UInt8, at offset: Int = 10, count: Int = 40) -> [UInt8] {
        var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: count)
        bytes[offset] = byte
        return bytes
    }

    static func attribute(_ key: String, _ value: String) -> CommonV1KeyValue {
        CommonV1KeyValue(key: key, value: CommonV1AnyValue(value: .stringValue(value)))
    }

    @Test(PythonPeers.trait) func reusingRepeatedValuesDecodesReferenceSamplesLikeAFreshDecode() throws {
        // Each batch is the reference's samples twice over (protobuf merge: repeated fields
        // concatenate), so every string and id occurs at least twice in one large input.
        func check<M: ProtoMessage>(_ type: M.Type, _ signal: ReferencePeer.Signal, seed: Int) throws {
            let samples = try ReferencePeer.generate(signal, seed: seed, count: 150)
            let once = samples.flatMap(\.binary)
            let batch = once + once
            #expect(batch.count > 4096)
            let reused = try M(serializedBytes: batch)
            let plain = try M(serializedBytes: batch, options: Self.fresh)
            // (Compared by encoding: the samples hold NaNs, which `==` never matches.)
            #expect(reused.serializedBytes() == plain.serializedBytes(), "\(signal)")
            // And both equal the samples merged one by one.
            var merged = M()
            for sample in samples + samples {
                try sample.binary.withUnsafeBytes { try merged.merge(serializedBytes: $0, options: Self.fresh) }
            }
            #expect(reused.serializedBytes() == merged.serializedBytes(), "\(signal)")
            #expect(reused.serializedBytes().count > 4096)
        }
        try check(Traces.self, .traces, seed: 21)
        try check(Metrics.self, .metrics, seed: 22)
        try check(Logs.self, .logs, seed: 23)
    }

    @Test func stringsWithTheSameHashButDifferentBytesStayDistinct() throws {
        let variants = [Self.sameHash(UInt8(ascii: "b")), Self.sameHash(UInt8(ascii: "c")), Self.sameHash(UInt8(ascii: "a")),
                        Array("aaaaaaaaaa\u{e9}aaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8)].map { String(decoding: $0, as: UTF8.self) }
        var resource = ResourceV1Resource()
        for i in 0..<400 {
            resource.attributes.append(Self.attribute(variants[(i / 3) % variants.count], variants[i % variants.count]))
        }
        let request = Traces(resourceSpans: [TraceV1ResourceSpans(resource: resource)])
        let bytes = request.serializedBytes()
        #expect(bytes.count > 4096)
        let decoded = try Traces(serializedBytes: bytes)
        #expect(decoded == request)
        #expect(decoded.resourceSpans[0].resource!.attributes.map(\.key) == resource.attributes.map(\.key))
    }

    @Test(PythonPeers.trait) func invalidUTF8WithTheHashOfAValidStringIsStillRejected() throws {
        // A valid 40-byte string, then (same length, same hash words) one with a lone 0xFF.
        var attributes: [UInt8] = []
        for _ in 0..<100 { attributes += ld(1, ld(1, Self.sameHash(UInt8(ascii: "b")))) }
        attributes += ld(1, ld(1, Self.sameHash(0xFF)))
        let input = ld(1, ld(1, attributes))  // resource_spans → resource → attributes → key
        #expect(input.count > 4096)
        for options in [ProtoDecodingOptions(), Self.fresh] {
            do {
                _ = try Traces(serializedBytes: input, options: options)
                Issue.record("decoded invalid UTF-8")
            } catch { #expect(error.code == .invalidUTF8) }
        }
        #expect(try ReferencePeer.rejects(.traces, [input]) == [true])
    }

    @Test func repeatedIdsDecodeToTheirOwnBytes() throws {
        var generator = SplitMix64(seed: 5)
        func id(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) } }
        let traceIds = (0..<3).map { _ in id(16) }
        var spans: [TraceV1Span] = []
        var previous: [UInt8] = []
        for i in 0..<300 {
            var spanId = id(8)
            if i % 7 == 0 { spanId = previous }  // equal to the previous span's id
            var traceId = traceIds[i % 3]
            if i % 11 == 0 { traceId[15] ^= 1 }  // differs from a frequent id in its last byte only
            spans.append(TraceV1Span(traceId: traceId, spanId: spanId, parentSpanId: previous, name: "span"))
            previous = spanId
        }
        let request = Traces(resourceSpans: [TraceV1ResourceSpans(scopeSpans: [TraceV1ScopeSpans(spans: spans)])])
        let decoded = try Traces(serializedBytes: request.serializedBytes())
        #expect(decoded == request)
    }

    static func stringStorage(_ string: String) -> UnsafeRawPointer? {
        string.utf8.withContiguousStorageIfAvailable { UnsafeRawPointer($0.baseAddress) } ?? nil
    }

    @Test func oneOffValuesDoNotEvictRecurringOnesFromTheReuseTable() throws {
        // Every span: the same trace id and first attribute, then a span id and 20 attributes seen
        // only once (2,000 one-off attributes and 100 one-off ids against 256 and 64 slots). The
        // recurring values are kept when first seen (their slots are empty); the one-off values
        // only mark their slots as pending, so they evict nothing: every span shares the first
        // span's storage for its trace id and for its first attribute's value.
        let agent = "Mozilla/5.0 (X11; Linux x86_64) recurring-user-agent/1.0"
        let traceId = (0..<16).map { UInt8($0 &* 7 &+ 1) }
        var generator = SplitMix64(seed: 9)
        var spans: [TraceV1Span] = []
        for i in 0..<100 {
            var attributes = [Self.attribute("user_agent.original", agent)]
            for j in 0..<20 { attributes.append(Self.attribute("unique.\(j)", "https://example.com/\(i)/\(j)/\(generator.next())")) }
            let spanId = (0..<8).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            spans.append(TraceV1Span(traceId: traceId, spanId: spanId, name: "span", attributes: attributes))
        }
        let request = Traces(resourceSpans: [TraceV1ResourceSpans(scopeSpans: [TraceV1ScopeSpans(spans: spans)])])
        let bytes = request.serializedBytes()
        let decoded = try Traces(serializedBytes: bytes)
        #expect(decoded == request)
        #expect(try Traces(serializedBytes: bytes, options: Self.fresh) == request)
        let decodedSpans = decoded.resourceSpans[0].scopeSpans[0].spans
        func agentStorage(_ span: TraceV1Span) -> UnsafeRawPointer? {
            guard case .stringValue(let value)? = span.attributes[0].value?.value else { return nil }
            return Self.stringStorage(value)
        }
        let firstAgent = agentStorage(decodedSpans[0]), firstTraceId = Self.storage(decodedSpans[0].traceId)
        #expect(firstAgent != nil)
        #expect(decodedSpans.filter { agentStorage($0) != firstAgent }.isEmpty)
        #expect(decodedSpans.filter { Self.storage($0.traceId) != firstTraceId }.isEmpty)
    }

    @Test func shortStringsAreReusedAndStillValidated() throws {
        // Event names of 1 to 7 bytes (found by their bytes in one word), an invalid one-byte
        // name after many valid ones, and a short string within the first 8 bytes of the input
        // (created as before: no 8 readable bytes end with it).
        let names = ["a", "ab", "abc", "message", "messag", "é", "SENT", "a\u{0}b"]
        var spans: [TraceV1Span] = []
        for i in 0..<300 {
            spans.append(TraceV1Span(name: "s", events: [TraceV1Span.Event(name: names[i % names.count]),
                                                         TraceV1Span.Event(name: names[(i * 7) % names.count])]))
        }
        let request = Traces(resourceSpans: [TraceV1ResourceSpans(scopeSpans: [TraceV1ScopeSpans(spans: spans)], schemaUrl: "ab")])
        let bytes = request.serializedBytes()
        #expect(bytes.count > 2048)
        #expect(try Traces(serializedBytes: bytes) == request)
        #expect(try Traces(serializedBytes: bytes, options: Self.fresh) == request)
        let early = ld(1, ld(3, Array("ab".utf8)) + ld(2, spans.prefix(150).map { ld(2, $0.serializedBytes()) }.reduce([], +)))
        #expect(early.count > 2048)
        let decodedEarly = try Traces(serializedBytes: early)
        #expect(decodedEarly.resourceSpans[0].schemaUrl == "ab")
        #expect(decodedEarly == (try Traces(serializedBytes: early, options: Self.fresh)))
        // `message` then a 1-byte 0xFF name: rejected with and without reuse.
        var invalid = ld(2, ld(2, ld(11, ld(2, Array("message".utf8)))))  // ResourceSpans.scope_spans → spans → events → name
        for _ in 0..<200 { invalid += ld(2, ld(2, ld(11, ld(2, Array("message".utf8))))) }
        invalid += ld(2, ld(2, ld(11, ld(2, [0xFF]))))
        let input = ld(1, invalid)
        #expect(input.count > 2048)
        for options in [ProtoDecodingOptions(), Self.fresh] {
            do {
                _ = try Traces(serializedBytes: input, options: options)
                Issue.record("decoded invalid UTF-8")
            } catch { #expect(error.code == .invalidUTF8) }
        }
    }

    @Test func aValueSeenTwiceWhileItsSlotHoldsAnotherIsKeptFromThenOn() throws {
        // Span names A B B B A A A, where A and B have the same hash (one slot): A is kept (empty
        // slot), the first B only pending, the second B replaces A, the third is B's copy; then
        // likewise for A. Every name decodes to its own bytes, with or without reuse.
        let a = String(decoding: Self.sameHash(UInt8(ascii: "b")), as: UTF8.self)
        let b = String(decoding: Self.sameHash(UInt8(ascii: "c")), as: UTF8.self)
        let names = [a, b, b, b, a, a, a]
        let spans = names.map { TraceV1Span(name: $0) }
        let padding = String(repeating: "p", count: 2100)
        let request = Traces(resourceSpans: [TraceV1ResourceSpans(scopeSpans: [TraceV1ScopeSpans(spans: spans)], schemaUrl: padding)])
        let bytes = request.serializedBytes()
        #expect(bytes.count > 2048)
        let decoded = try Traces(serializedBytes: bytes)
        #expect(decoded == request)
        #expect(try Traces(serializedBytes: bytes, options: Self.fresh) == request)
        let storage = decoded.resourceSpans[0].scopeSpans[0].spans.map { Self.stringStorage($0.name) }
        #expect(storage[1] != storage[2] && storage[2] == storage[3])
        #expect(storage[0] != storage[4] && storage[4] != storage[5] && storage[5] == storage[6])
    }

    @Test func repeatedFieldsAreAllocatedOnceAtTheirFinalSize() throws {
        // Grown by appending, 100 elements would leave a capacity of at least 128.
        let attributes = (0..<100).map { Self.attribute("key.\($0)", "value") }
        let span = TraceV1Span(name: "s", attributes: attributes)
        let request = Traces(resourceSpans: [TraceV1ResourceSpans(scopeSpans: [TraceV1ScopeSpans(spans: Array(repeating: span, count: 100))])])
        let decoded = try Traces(serializedBytes: request.serializedBytes())
        #expect(decoded == request)
        let spans = decoded.resourceSpans[0].scopeSpans[0].spans
        #expect(spans.capacity < 110, "spans capacity \(spans.capacity)")
        #expect(spans[0].attributes.capacity < 110, "attributes capacity \(spans[0].attributes.capacity)")
        // A packed varint run (exponential histogram buckets) is reserved from its byte count.
        let counts = (0..<100).map { UInt64($0) << ($0 % 40) }
        let buckets = MetricsV1ExponentialHistogramDataPoint.Buckets(offset: 1, bucketCounts: counts)
        let point = ld(8, buckets.serializedBytes())  // positive = 8
        let input = ld(1, ld(2, ld(2, ld(10, ld(1, point)))))
        let metrics = try Metrics(serializedBytes: input)
        guard case .exponentialHistogram(let histogram)? = metrics.resourceMetrics[0].scopeMetrics[0].metrics[0].data else {
            Issue.record("no exponential histogram"); return
        }
        let decodedCounts = histogram.dataPoints[0].positive!.bucketCounts
        #expect(decodedCounts == counts)
        #expect(decodedCounts.capacity < 110, "bucket counts capacity \(decodedCounts.capacity)")
    }

    @Test func manySmallRunsAndMergesOfOneFieldDecodeInLinearTime() throws {
        // 200,000 packed runs of one varint each in one Buckets message, and 100,000 occurrences of
        // one singular `resource` field each adding one attribute: growing by exactly what each
        // run or merge needs would copy the array every time (quadratic: hours); growth at least
        // doubles, so this takes milliseconds.
        let runs = [UInt8]((0..<200_000).lazy.flatMap { _ in [0x12, 0x01, 0x05] })
        let input = ld(1, ld(2, ld(2, ld(10, ld(1, ld(8, runs))))))
        let metrics = try Metrics(serializedBytes: input)
        guard case .exponentialHistogram(let histogram)? = metrics.resourceMetrics[0].scopeMetrics[0].metrics[0].data else {
            Issue.record("no exponential histogram"); return
        }
        #expect(histogram.dataPoints[0].positive!.bucketCounts.count == 200_000)

        let oneAttribute = ld(1, ld(1, ld(1, Array("k".utf8))))  // resource → attributes → key
        let merges = [UInt8]((0..<100_000).lazy.flatMap { _ in oneAttribute })
        let traces = try Traces(serializedBytes: ld(1, merges))
        #expect(traces.resourceSpans[0].resource!.attributes.count == 100_000)

        // 100,000 attributes each followed by another field: 100,000 runs of one.
        let interleaved = [UInt8]((0..<100_000).lazy.flatMap { _ in ld(1, ld(1, Array("k".utf8))) + [0x10, 0x01] })
        let split = try Traces(serializedBytes: ld(1, ld(1, interleaved)))
        #expect(split.resourceSpans[0].resource!.attributes.count == 100_000)
        #expect(split.resourceSpans[0].resource!.droppedAttributesCount == 1)
    }

    @Test(PythonPeers.trait) func aScanOverMalformedInputLeavesTheErrorToTheDecoder() throws {
        // Many empty spans, then a span whose length runs past the end: the tag scan that sizes
        // `spans` stops at the bad length; decoding reports it.
        let spans = [UInt8]((0..<5000).lazy.flatMap { _ in [0x12, 0x00] }) + [0x12, 0x7F, 0x00]
        let input = ld(1, ld(2, spans))
        do {
            _ = try Traces(serializedBytes: input)
            Issue.record("decoded")
        } catch { #expect(error.code == .lengthPastEnd) }
        // A scan that meets wire type 7 mid-message.
        let bad = ld(1, ld(2, [0x12, 0x00, 0x12, 0x00, 0x0F, 0x00]))
        do {
            _ = try Traces(serializedBytes: bad)
            Issue.record("decoded")
        } catch { #expect(error.code == .invalidWireType) }
        #expect(try ReferencePeer.rejects(.traces, [input, bad]) == [true, true])
    }

    @Test func aReusedAttributeStillObeysTheDepthLimitWhereItRecurs() throws {
        // KeyValue{k: kvlist{KeyValue{k: "deep"}}}: needs 4 more levels below the KeyValue.
        let inner = ld(1, Array("inner-key".utf8)) + ld(2, ld(1, Array("deep".utf8)))
        let attribute = ld(1, Array("nested.attribute".utf8)) + ld(2, ld(6, ld(1, inner)))
        var padding: [UInt8] = []
        for i in 0..<150 { padding += ld(1, ld(1, Array("padding.key.\(i)".utf8))) }
        let resource = ld(1, padding + ld(1, attribute))      // Resource.attributes, KeyValue at depth 3
        let span = ld(2, ld(2, ld(9, attribute)))             // ScopeSpans.spans → Span.attributes, depth 4
        let input = ld(1, resource + span)
        #expect(input.count > 2048)
        // With a limit of 7 the copy under the resource fits and the one under the span does not.
        for reuse in [true, false] {
            do {
                _ = try Traces(serializedBytes: input, options: .init(maxDepth: 7, reusesRepeatedValues: reuse))
                Issue.record("decoded past the depth limit (reuse \(reuse))")
            } catch { #expect(error.code == .depthLimitExceeded) }
            let decoded = try Traces(serializedBytes: input, options: .init(maxDepth: 8, reusesRepeatedValues: reuse))
            #expect(decoded.resourceSpans[0].resource!.attributes.last == decoded.resourceSpans[0].scopeSpans[0].spans[0].attributes[0])
            #expect(decoded.serializedBytes() == input)
        }
    }

    @Test func reusedAttributesAreEqualToFreshlyDecodedOnes() throws {
        // 300 spans sharing most attributes (as telemetry does), some unique, some colliding.
        var spans: [TraceV1Span] = []
        for i in 0..<300 {
            spans.append(TraceV1Span(name: "span \(i % 5)", attributes: [
                Self.attribute("http.request.method", ["GET", "POST"][i % 2]),
                Self.attribute("url.full", "https://example.com/items/\(i)"),
                Self.attribute(String(decoding: Self.sameHash(UInt8(ascii: "b")), as: UTF8.self), "x"),
                Self.attribute(String(decoding: Self.sameHash(UInt8(ascii: "c")), as: UTF8.self), "x"),
                CommonV1KeyValue(key: "server.port", value: CommonV1AnyValue(value: .intValue(Int64(i % 3)))),
            ]))
        }
        let request = Traces(resourceSpans: [TraceV1ResourceSpans(scopeSpans: [TraceV1ScopeSpans(spans: spans)])])
        let bytes = request.serializedBytes()
        #expect(try Traces(serializedBytes: bytes) == request)
        #expect(try Traces(serializedBytes: bytes, options: Self.fresh) == request)
    }

    @Test(PythonPeers.trait) func mutatedLargeInputsDecodeAlikeWithAndWithoutReuse() throws {
        // Large inputs (samples twice over, so values repeat) with random byte mutations: decoding
        // with reuse gives the same message, or the same error code, as decoding afresh.
        func check<M: ProtoMessage>(_ type: M.Type, _ signal: ReferencePeer.Signal, seed: Int) throws {
            let samples = try ReferencePeer.generate(signal, seed: seed, count: 60)
            let once = samples.flatMap(\.binary)
            let original = once + once
            var generator = SplitMix64(seed: UInt64(seed))
            var errors = 0, decoded = 0
            for round in 0..<300 {
                var input = original
                for _ in 0..<(1 + Int(generator.next() % 6)) {
                    input[Int(generator.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: generator.next())
                }
                if round % 5 == 0 { input.removeLast(Int(generator.next() % UInt64(input.count / 2))) }
                /// The re-encoded message, or the error's code.
                func outcome(_ options: ProtoDecodingOptions) -> (bytes: [UInt8]?, code: String?) {
                    do throws(ProtoDecodingError) { return (try M(serializedBytes: input, options: options).serializedBytes(), nil) } catch { return (nil, error.code.description) }
                }
                let reused = outcome(ProtoDecodingOptions())
                let plain = outcome(Self.fresh)
                #expect(reused.bytes == plain.bytes && reused.code == plain.code, "\(signal) round \(round): \(String(describing: reused.code)) vs \(String(describing: plain.code))")
                if plain.bytes != nil { decoded += 1 } else { errors += 1 }
            }
            #expect(errors > 0 && decoded > 0, "\(signal): \(errors) errors, \(decoded) decoded")
        }
        try check(Traces.self, .traces, seed: 31)
        try check(Metrics.self, .metrics, seed: 32)
        try check(Logs.self, .logs, seed: 33)
    }

    /// A metrics request of `metrics` histograms of `points` points each, whose attribute set
    /// depends on the point's index only (the same sets recur in every metric, as they do across
    /// a service's instruments), plus one unique attribute when `unique` is set.
    static func metricsWithRecurringAttributeSets(metrics: Int, points: Int, unique: Bool = false) -> Metrics {
        var all: [MetricsV1Metric] = []
        for m in 0..<metrics {
            var dataPoints: [MetricsV1HistogramDataPoint] = []
            for p in 0..<points {
                var point = MetricsV1HistogramDataPoint()
                point.attributes = [
                    Self.attribute("http.request.method", ["GET", "POST"][p % 2]),
                    CommonV1KeyValue(key: "http.response.status_code", value: CommonV1AnyValue(value: .intValue(Int64([200, 404, 500][p % 3])))),
                    Self.attribute("http.route", "/api/v1/route/\(p)"),
                ]
                if unique { point.attributes.append(Self.attribute("series", "\(m)-\(p)")) }
                point.count = UInt64(m * points + p)
                point.bucketCounts = [1, 2, UInt64(p)]
                dataPoints.append(point)
            }
            all.append(MetricsV1Metric(name: "metric.\(m)", data: .histogram(MetricsV1Histogram(dataPoints: dataPoints))))
        }
        return Metrics(resourceMetrics: [MetricsV1ResourceMetrics(scopeMetrics: [MetricsV1ScopeMetrics(metrics: all)])])
    }

    static func histogramPoints(_ request: Metrics) -> [MetricsV1HistogramDataPoint] {
        request.resourceMetrics.flatMap(\.scopeMetrics).flatMap(\.metrics).flatMap { metric -> [MetricsV1HistogramDataPoint] in
            if case .histogram(let histogram)? = metric.data { return histogram.dataPoints }
            return []
        }
    }

    static func storage<E>(_ array: [E]) -> UnsafeRawPointer? { array.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) } }

    @Test func recurringAttributeSetsShareOneArrayAndDecodeLikeAFreshDecode() throws {
        let request = Self.metricsWithRecurringAttributeSets(metrics: 8, points: 40)
        let bytes = request.serializedBytes()
        #expect(bytes.count > 2048)
        let reused = try Metrics(serializedBytes: bytes)
        let plain = try Metrics(serializedBytes: bytes, options: Self.fresh)
        #expect(reused == request && plain == request)
        #expect(reused.serializedBytes() == bytes)
        let reusedPoints = Self.histogramPoints(reused), plainPoints = Self.histogramPoints(plain)
        #expect(reusedPoints.count == 320)
        // With reuse, point p of (nearly) every metric holds the array decoded for point p of the
        // first (the run cache is direct-mapped: a few sets share a slot and miss).
        var shared = 0
        for i in 40..<320 {
            if Self.storage(reusedPoints[i].attributes) == Self.storage(reusedPoints[i % 40].attributes) { shared += 1 }
            #expect(Self.storage(plainPoints[i].attributes) != Self.storage(plainPoints[i % 40].attributes))
        }
        #expect(shared >= 280 * 3 / 4, "\(shared) of 280 points share their attribute array")
        // A shared array is a value: changing one point's attributes leaves the others alone.
        var changed = reused
        if case .histogram(var histogram)? = changed.resourceMetrics[0].scopeMetrics[0].metrics[3].data {
            histogram.dataPoints[0].attributes[0] = Self.attribute("changed", "yes")
            changed.resourceMetrics[0].scopeMetrics[0].metrics[3].data = .histogram(histogram)
        }
        #expect(Self.histogramPoints(changed)[3 * 40].attributes[0].key == "changed")
        #expect(Self.histogramPoints(changed)[4 * 40].attributes == Self.histogramPoints(request)[4 * 40].attributes)
    }

    @Test func attributeSetsThatNeverRecurDecodeAlikeAfterRunLookUpsStop() throws {
        // 600 points with a unique attribute each (run look-ups give up), then recurring sets.
        let unique = Self.metricsWithRecurringAttributeSets(metrics: 3, points: 200, unique: true)
        let recurring = Self.metricsWithRecurringAttributeSets(metrics: 3, points: 50)
        let bytes = unique.serializedBytes() + recurring.serializedBytes()  // protobuf merge: the metrics concatenate
        var expected = unique
        expected.resourceMetrics += recurring.resourceMetrics
        #expect(try Metrics(serializedBytes: bytes) == expected)
        #expect(try Metrics(serializedBytes: bytes, options: Self.fresh) == expected)
    }

    @Test func attributeRunsSplitByOtherFieldsOrBrokenAtTheEndDecodeLikeAFreshDecode() throws {
        let a = ld(1, Array("first.attribute.key".utf8)) + ld(2, ld(1, Array("value".utf8)))
        let b = ld(1, Array("second.attribute.key".utf8)) + ld(2, [0x18, 0x05])
        let whole = ld(9, a) + ld(9, b)
        // Point 1 holds the whole run; point 2 the same run split by a count (field 4, fixed64);
        // point 3 the whole run again; then padding points to pass the reuse threshold.
        let split = ld(9, a) + [0x21] + [UInt8](repeating: 7, count: 8) + ld(9, b)
        var points = [whole, split, whole]
        for i in 0..<80 { points.append(ld(9, ld(1, Array("padding.attribute.number.\(i)".utf8)))) }
        let input = ld(1, ld(2, ld(2, ld(9, points.map { ld(1, $0) }.reduce([], +)))))
        #expect(input.count > 2048)
        let reused = try Metrics(serializedBytes: input)
        let plain = try Metrics(serializedBytes: input, options: Self.fresh)
        #expect(reused == plain)
        let decoded = Self.histogramPoints(reused)
        #expect(decoded[1].attributes == decoded[0].attributes && decoded[1].count == 0x0707_0707_0707_0707)
        #expect(Self.storage(decoded[2].attributes) == Self.storage(decoded[0].attributes))
        // The same run again, its last element's length now past the end of its point.
        var broken = whole
        broken[ld(9, a).count + 1] = 0x7F
        let brokenInput = ld(1, ld(2, ld(2, ld(9, (points + [broken]).map { ld(1, $0) }.reduce([], +)))))
        for options in [ProtoDecodingOptions(), Self.fresh] {
            do {
                _ = try Metrics(serializedBytes: brokenInput, options: options)
                Issue.record("decoded a length past the end")
            } catch { #expect(error.code == .lengthPastEnd) }
        }
    }

    @Test func aReusedAttributeRunStillObeysTheDepthLimitWhereItRecurs() throws {
        // The same two-attribute run (field 1 of its message both times) as the resource's
        // attributes (KeyValues at depth 3) and as the values of a kvlist in a span attribute
        // (KeyValues at depth 7); its first attribute needs 4 more levels below the KeyValue.
        let inner = ld(1, Array("inner-key".utf8)) + ld(2, ld(1, Array("deep".utf8)))
        let attribute = ld(1, Array("nested.attribute".utf8)) + ld(2, ld(6, ld(1, inner)))
        let run = ld(1, attribute) + ld(1, ld(1, Array("plain.attribute".utf8)))
        let resource = ld(1, run)                                                 // ResourceSpans.resource
        let span = ld(9, ld(1, Array("k".utf8)) + ld(2, ld(6, run)))              // Span.attributes: k = kvlist(run)
        let padding = ld(3, [UInt8](repeating: UInt8(ascii: "p"), count: 2100))  // ResourceSpans.schema_url
        let input = ld(1, resource + ld(2, ld(2, span)) + padding)
        for reuse in [true, false] {
            do {
                _ = try Traces(serializedBytes: input, options: .init(maxDepth: 10, reusesRepeatedValues: reuse))
                Issue.record("decoded past the depth limit (reuse \(reuse))")
            } catch { #expect(error.code == .depthLimitExceeded) }
            let decoded = try Traces(serializedBytes: input, options: .init(maxDepth: 11, reusesRepeatedValues: reuse))
            let resourceAttributes = decoded.resourceSpans[0].resource!.attributes
            guard case .kvlistValue(let list)? = decoded.resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value?.value else {
                Issue.record("no kvlist"); continue
            }
            #expect(resourceAttributes.count == 2 && list.values == resourceAttributes)
            #expect(decoded.serializedBytes() == input)
        }
    }
}
