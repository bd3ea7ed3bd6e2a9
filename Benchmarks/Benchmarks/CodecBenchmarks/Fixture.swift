// The benchmark's payloads as plain values, built once from a fixed seed. Both codecs build their
// messages from these same values, so the two encodings must be byte-identical (checked before any
// benchmark runs, see `CodecBenchmarks.swift`).

/// SplitMix64: a tiny deterministic generator, so every run measures the same bytes.
struct SeededGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }
}

/// A neutral description of the OTLP content both codecs encode.
enum Fixture {
    enum Value {
        case string(String)
        case int(Int64)
        case double(Double)
        case bool(Bool)
    }

    struct Attribute {
        var key: String
        var value: Value
    }

    struct Event {
        var timeUnixNano: UInt64
        var name: String
        var attributes: [Attribute]
    }

    struct Span {
        var traceId: [UInt8]
        var spanId: [UInt8]
        var parentSpanId: [UInt8]
        var flags: UInt32
        var name: String
        /// Raw `SpanKind` value.
        var kind: Int32
        var startTimeUnixNano: UInt64
        var endTimeUnixNano: UInt64
        var attributes: [Attribute]
        var events: [Event]
        /// Raw `Status.StatusCode` value.
        var statusCode: Int32
        var statusMessage: String
    }

    struct Scope {
        var resourceAttributes: [Attribute]
        var scopeName: String
        var scopeVersion: String
        var schemaUrl: String
    }

    struct Traces {
        var scope: Scope
        var spans: [Span]
    }

    struct HistogramPoint {
        var attributes: [Attribute]
        var startTimeUnixNano: UInt64
        var timeUnixNano: UInt64
        var count: UInt64
        var sum: Double
        var min: Double
        var max: Double
        var bucketCounts: [UInt64]
        var explicitBounds: [Double]
    }

    struct HistogramMetric {
        var name: String
        var description: String
        var unit: String
        /// Raw `AggregationTemporality` value.
        var temporality: Int32
        var points: [HistogramPoint]
    }

    struct Metrics {
        var scope: Scope
        var metrics: [HistogramMetric]
    }

    static let spanCount = 512
    static let attributesPerSpan = 8
    static let eventsPerSpan = 2
    static let histogramPointCount = 512
    static let histogramMetricCount = 8
    static let explicitBounds: [Double] = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]

    static let scope = Scope(
        resourceAttributes: [
            Attribute(key: "service.name", value: .string("checkout-service")),
            Attribute(key: "service.version", value: .string("2.14.1")),
            Attribute(key: "service.instance.id", value: .string("7f3c9a52-5d0e-4b8e-9c61-0a4e6f1b2d3c")),
            Attribute(key: "host.name", value: .string("ip-10-0-3-17.eu-west-1.compute.internal")),
            Attribute(key: "telemetry.sdk.name", value: .string("swift-otlp")),
            Attribute(key: "telemetry.sdk.language", value: .string("swift")),
        ],
        scopeName: "swift-otlp.benchmarks",
        scopeVersion: "1.0.0",
        schemaUrl: "https://opentelemetry.io/schemas/1.26.0"
    )

    /// 512 spans, each with 8 attributes (5 strings, 2 ints, 1 bool) and 2 events (2 attributes each).
    static func traces() -> Traces {
        var rng = SeededGenerator(seed: 0x5EED_0001)
        let methods = ["GET", "POST", "PUT", "DELETE"]
        let routes = ["/api/v1/carts/{id}", "/api/v1/orders", "/api/v1/users/{id}/profile", "/healthz", "/api/v1/payments/{id}/capture"]
        let base: UInt64 = 1_732_550_400_000_000_000
        var spans: [Span] = []
        spans.reserveCapacity(spanCount)
        let traceId = rng.bytes(16)
        let rootId = rng.bytes(8)
        for i in 0..<spanCount {
            let method = methods[rng.below(methods.count)]
            let route = routes[rng.below(routes.count)]
            let status = [200, 200, 200, 201, 404, 500][rng.below(6)]
            let start = base &+ UInt64(i) &* 1_250_000 &+ UInt64(rng.below(100_000))
            let duration = UInt64(50_000 + rng.below(20_000_000))
            let attributes = [
                Attribute(key: "http.request.method", value: .string(method)),
                Attribute(key: "http.route", value: .string(route)),
                Attribute(key: "url.full", value: .string("https://shop.example.com\(route)?session=\(rng.next() % 1_000_000)")),
                Attribute(key: "server.address", value: .string("shop.example.com")),
                Attribute(key: "server.port", value: .int(443)),
                Attribute(key: "http.response.status_code", value: .int(Int64(status))),
                Attribute(key: "user_agent.original", value: .string("Mozilla/5.0 (X11; Linux x86_64) swift-otlp-bench/1.0")),
                Attribute(key: "http.request.resend", value: .bool(rng.below(10) == 0)),
            ]
            let events = [
                Event(
                    timeUnixNano: start &+ duration / 3,
                    name: "message",
                    attributes: [
                        Attribute(key: "message.type", value: .string("SENT")),
                        Attribute(key: "message.id", value: .int(Int64(i))),
                    ]
                ),
                Event(
                    timeUnixNano: start &+ duration / 2,
                    name: status >= 500 ? "exception" : "cache.lookup",
                    attributes: [
                        Attribute(key: "cache.hit_ratio", value: .double(Double(rng.below(1000)) / 1000)),
                        Attribute(key: "cache.key", value: .string("cart:\(rng.next() % 100_000)")),
                    ]
                ),
            ]
            spans.append(Span(
                traceId: i % 16 == 0 ? rng.bytes(16) : traceId,
                spanId: rng.bytes(8),
                parentSpanId: i % 16 == 0 ? [] : rootId,
                flags: 0x101,
                name: "\(method) \(route)",
                kind: 2, // SPAN_KIND_SERVER
                startTimeUnixNano: start,
                endTimeUnixNano: start &+ duration,
                attributes: attributes,
                events: events,
                statusCode: status >= 500 ? 2 : 0, // STATUS_CODE_ERROR : STATUS_CODE_UNSET
                statusMessage: status >= 500 ? "internal error" : ""
            ))
        }
        return Traces(scope: scope, spans: spans)
    }

    /// 8 histogram metrics × 64 points = 512 points, each with 3 attributes, sum/min/max and 16 buckets.
    static func metrics() -> Metrics {
        var rng = SeededGenerator(seed: 0x5EED_0002)
        let base: UInt64 = 1_732_550_400_000_000_000
        let pointsPerMetric = histogramPointCount / histogramMetricCount
        var metrics: [HistogramMetric] = []
        for m in 0..<histogramMetricCount {
            var points: [HistogramPoint] = []
            for p in 0..<pointsPerMetric {
                var buckets = [UInt64](repeating: 0, count: explicitBounds.count + 1)
                var count: UInt64 = 0
                for b in buckets.indices {
                    let n = UInt64(rng.below(b < 8 ? 5000 : 50))
                    buckets[b] = n
                    count += n
                }
                points.append(HistogramPoint(
                    attributes: [
                        Attribute(key: "http.request.method", value: .string(["GET", "POST"][p % 2])),
                        Attribute(key: "http.response.status_code", value: .int(Int64([200, 404, 500][p % 3]))),
                        Attribute(key: "http.route", value: .string("/api/v1/route/\(p)")),
                    ],
                    startTimeUnixNano: base,
                    timeUnixNano: base &+ 60_000_000_000 &+ UInt64(rng.below(1_000_000)),
                    count: count,
                    sum: Double(count) * (Double(rng.below(100_000)) / 100),
                    min: Double(rng.below(100)) / 10,
                    max: 1000 + Double(rng.below(100_000)) / 10,
                    bucketCounts: buckets,
                    explicitBounds: explicitBounds
                ))
            }
            metrics.append(HistogramMetric(
                name: "http.server.request.duration.\(m)",
                description: "Duration of HTTP server requests.",
                unit: "ms",
                temporality: 2, // AGGREGATION_TEMPORALITY_CUMULATIVE
                points: points
            ))
        }
        return Metrics(scope: scope, metrics: metrics)
    }
}
