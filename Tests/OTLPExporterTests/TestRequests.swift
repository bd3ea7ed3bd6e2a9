// Hand-encoded OTLP export requests (field numbers from opentelemetry-proto), so the exporter
// tests do not depend on the generated codec. The receiver decodes them with the reference
// Python opentelemetry-proto, which checks that they are well-formed.

enum TestRequests {
    typealias P = ProtoBytes

    static func fixed64(_ number: UInt64, _ value: UInt64) -> [UInt8] {
        var out = P.varint(number << 3 | 1)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
        return out
    }

    static func resource(service: String) -> [UInt8] {
        let value = P.field(1, string: service)  // AnyValue.string_value
        let kv = P.field(1, string: "service.name") + P.field(2, bytes: value)
        return P.field(1, bytes: kv)  // Resource.attributes
    }

    static func scope() -> [UInt8] { P.field(1, string: "swift-otlp-tests") + P.field(2, string: "1.0") }

    /// ExportTraceServiceRequest with one span per name.
    static func traces(_ names: [String]) -> [UInt8] {
        var spans: [UInt8] = []
        for (i, name) in names.enumerated() {
            let traceID = (0..<16).map { UInt8(truncatingIfNeeded: $0 &+ i &+ 1) }
            let spanID = (0..<8).map { UInt8(truncatingIfNeeded: $0 &* 3 &+ i &+ 1) }
            var span = P.field(1, bytes: traceID) + P.field(2, bytes: spanID) + P.field(5, string: name)
            span += P.field(6, varint: 2)  // SPAN_KIND_SERVER
            span += fixed64(7, 1_700_000_000_000_000_000) + fixed64(8, 1_700_000_000_000_500_000)
            span += P.field(9, bytes: P.field(1, string: "index") + P.field(2, bytes: P.field(3, varint: UInt64(i))))
            spans += P.field(2, bytes: span)  // ScopeSpans.spans
        }
        let scopeSpans = P.field(1, bytes: scope()) + spans
        let resourceSpans = P.field(1, bytes: resource(service: "tests")) + P.field(2, bytes: scopeSpans)
        return P.field(1, bytes: resourceSpans)
    }

    /// ExportLogsServiceRequest with one record per body.
    static func logs(_ bodies: [String]) -> [UInt8] {
        var records: [UInt8] = []
        for body in bodies {
            let record = fixed64(1, 1_700_000_000_000_000_000) + P.field(2, varint: 9)
                + P.field(5, bytes: P.field(1, string: body))
            records += P.field(2, bytes: record)
        }
        let scopeLogs = P.field(1, bytes: scope()) + records
        return P.field(1, bytes: P.field(1, bytes: resource(service: "tests")) + P.field(2, bytes: scopeLogs))
    }

    /// ExportMetricsServiceRequest: one monotonic cumulative sum `name` with one int point per value.
    static func metrics(name: String, values: [Int64]) -> [UInt8] {
        var points: [UInt8] = []
        for value in values {
            var point = fixed64(3, 1_700_000_000_000_000_000)
            point += P.varint(6 << 3 | 1)  // as_int, sfixed64
            for i in 0..<8 { point.append(UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> (8 * UInt64(i)))) }
            points += P.field(1, bytes: point)
        }
        let sum = points + P.field(2, varint: 2) + P.field(3, varint: 1)
        let metric = P.field(1, string: name) + P.field(7, bytes: sum)
        let scopeMetrics = P.field(1, bytes: scope()) + P.field(2, bytes: metric)
        return P.field(1, bytes: P.field(1, bytes: resource(service: "tests")) + P.field(2, bytes: scopeMetrics))
    }
}
