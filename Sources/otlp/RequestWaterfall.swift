import OTLPProto

/// Text waterfall of the spans of one export request: one block per trace, spans in tree order
/// (children under their parent, by start time), each with its duration and a bar placed on the
/// trace's time line. Spans whose parent is not in the request are shown as roots.
enum RequestWaterfall {
    static let barWidth = 40

    static func render(_ request: CollectorTraceV1ExportTraceServiceRequest) -> [String] {
        var spans: [TraceV1Span] = []
        for resourceSpans in request.resourceSpans {
            for scopeSpans in resourceSpans.scopeSpans { spans += scopeSpans.spans }
        }
        var traceOrder: [[UInt8]] = []
        var byTrace: [[UInt8]: [TraceV1Span]] = [:]
        for span in spans {
            if byTrace[span.traceId] == nil { traceOrder.append(span.traceId) }
            byTrace[span.traceId, default: []].append(span)
        }
        var lines: [String] = []
        for traceID in traceOrder {
            let members = byTrace[traceID] ?? []
            let start = members.map(\.startTimeUnixNano).min() ?? 0
            let end = max(members.map(\.endTimeUnixNano).max() ?? start, start)
            let total = max(end - start, 1)
            lines.append("trace \(hex(traceID)) \(members.count) span\(members.count == 1 ? "" : "s") \(milliseconds(end - start))")
            let ids = Set(members.map(\.spanId))
            var children: [[UInt8]: [TraceV1Span]] = [:]
            var roots: [TraceV1Span] = []
            for span in members {
                if span.parentSpanId.isEmpty || !ids.contains(span.parentSpanId) { roots.append(span) }
                else { children[span.parentSpanId, default: []].append(span) }
            }
            var visited = Set<[UInt8]>()
            func emit(_ span: TraceV1Span, depth: Int) {
                guard visited.insert(span.spanId).inserted else { return }  // a cycle of parent ids
                let offset = Int((span.startTimeUnixNano &- start) * UInt64(barWidth) / total)
                let clampedOffset = min(max(offset, 0), barWidth - 1)
                let duration = span.endTimeUnixNano > span.startTimeUnixNano ? span.endTimeUnixNano - span.startTimeUnixNano : 0
                let length = max(1, min(barWidth - clampedOffset, Int(duration * UInt64(barWidth) / total)))
                let label = String(repeating: "  ", count: min(depth, 10)) + span.name
                let padded = label.count >= 40 ? String(label.prefix(39)) + "…" : label + String(repeating: " ", count: 40 - label.count)
                let time = milliseconds(duration)
                let bar = String(repeating: " ", count: clampedOffset) + String(repeating: "█", count: length)
                lines.append("  \(padded) \(String(repeating: " ", count: max(0, 11 - time.count)))\(time) |\(bar)")
                for child in (children[span.spanId] ?? []).sorted(by: { $0.startTimeUnixNano < $1.startTimeUnixNano }) {
                    emit(child, depth: depth + 1)
                }
            }
            for root in roots.sorted(by: { $0.startTimeUnixNano < $1.startTimeUnixNano }) { emit(root, depth: 0) }
        }
        return lines
    }

    static func milliseconds(_ nanoseconds: UInt64) -> String {
        let tenths = (nanoseconds + 50_000) / 100_000
        return "\(tenths / 10).\(tenths % 10) ms"
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
