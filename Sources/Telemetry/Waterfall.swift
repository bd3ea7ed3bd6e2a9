// A text waterfall of spans (start offsets, duration bars, nesting, status), for terminals: used
// by `otlp demo` to draw the start-up phases a collector received.

#if canImport(Glibc)
import Glibc
#endif
public import OTLPProto

/// One span as the waterfall draws it.
public struct WaterfallSpan: Sendable, Hashable {
    /// Whether the span failed (error status), succeeded (ok) or said nothing (unset).
    public enum Status: Sendable, Hashable {
        /// No status set.
        case unset
        /// Succeeded.
        case ok
        /// Failed.
        case error
    }

    /// The label of its line.
    public var name: String
    /// Spans of different traces are drawn as separate waterfalls.
    public var traceID: String
    /// Its id, which children name as their parent (any string; hex for OTLP spans).
    public var spanID: String
    /// The enclosing span; a span whose parent is not among the drawn spans is drawn as a root.
    public var parentSpanID: String?
    /// Start, Unix nanoseconds.
    public var startUnixNano: UInt64
    /// End, Unix nanoseconds (never before the start).
    public var endUnixNano: UInt64
    /// Drawn as the bar's colour and an `✗ error` mark.
    public var status: Status

    public init(
        name: String, traceID: String = "", spanID: String, parentSpanID: String?, startUnixNano: UInt64,
        endUnixNano: UInt64, status: Status = .unset
    ) {
        self.name = name
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID.flatMap { $0.isEmpty ? nil : $0 }
        self.startUnixNano = startUnixNano
        self.endUnixNano = max(startUnixNano, endUnixNano)
        self.status = status
    }

    /// An SDK span (e.g. from ``InMemorySpanExporter``).
    public init(_ span: SpanData) {
        let status: Status = switch span.status {
        case .unset: .unset
        case .ok: .ok
        case .error: .error
        }
        self.init(
            name: span.name, traceID: span.context.traceID.description, spanID: span.context.spanID.description,
            parentSpanID: span.parentSpanID?.description, startUnixNano: span.startTimeUnixNano,
            endUnixNano: span.endTimeUnixNano, status: status)
    }

    /// A span as decoded from an OTLP export request (e.g. by a collector).
    public init(_ span: TraceV1Span) {
        func hex(_ bytes: [UInt8]) -> String {
            let digits = Array("0123456789abcdef".utf8)
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count * 2)
            for byte in bytes {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0xF)])
            }
            return String(decoding: out, as: UTF8.self)
        }
        let status: Status = switch span.status?.code {
        case .ok?: .ok
        case .error?: .error
        default: .unset
        }
        self.init(
            name: span.name, traceID: hex(span.traceId), spanID: hex(span.spanId),
            parentSpanID: span.parentSpanId.isEmpty ? nil : hex(span.parentSpanId),
            startUnixNano: span.startTimeUnixNano, endUnixNano: span.endTimeUnixNano, status: status)
    }
}

/// Draws spans as a waterfall: one line per span, children indented under their parent (ordered
/// by start), the start offset and duration in milliseconds from the trace's first start, a bar
/// placed on a shared time axis, and the status (failed spans marked `✗ error`).
///
/// ```
/// startup waterfall: 8 spans, 0–575.2 ms
/// thread_start_create_thread               0.0 ms    35.1 ms  |███                                     |
/// startup_prewarm_total                   35.1 ms   540.2 ms  |   ████████████████████████████████████ |
///   startup_prewarm_create_turn_context   35.1 ms    45.3 ms  |   ███                                  |
/// ```
public enum Waterfall {
    /// Whether to colour the output.
    public enum Style: Sendable {
        /// ANSI colours (bars green for ok, cyan for unset, red for error).
        case colour
        /// Plain text.
        case plain

        /// Colour when standard output is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`.
        public static var automatic: Style {
            #if canImport(Glibc)
            let environment = (getenv("NO_COLOR").map { String(cString: $0) }, getenv("TERM").map { String(cString: $0) })
            if isatty(STDOUT_FILENO) == 1, environment.0 == nil || environment.0 == "", environment.1 != "dumb" {
                return .colour
            }
            #endif
            return .plain
        }
    }

    /// The waterfall of `spans` (several traces: one waterfall each, earliest first), with a
    /// time axis `barWidth` characters wide.
    public static func render(_ spans: [WaterfallSpan], barWidth: Int = 40, style: Style = .plain) -> String {
        guard !spans.isEmpty else { return "startup waterfall: no spans\n" }
        var traces: [String: [WaterfallSpan]] = [:]
        for span in spans { traces[span.traceID, default: []].append(span) }
        let ordered = traces.values.sorted { ($0.map(\.startUnixNano).min() ?? 0) < ($1.map(\.startUnixNano).min() ?? 0) }
        return ordered.map { renderTrace($0, barWidth: max(10, barWidth), style: style) }.joined(separator: "\n")
    }

    static func renderTrace(_ spans: [WaterfallSpan], barWidth: Int, style: Style) -> String {
        let ids = Set(spans.map(\.spanID))
        var children: [String: [WaterfallSpan]] = [:]
        var roots: [WaterfallSpan] = []
        for span in spans {
            if let parent = span.parentSpanID, parent != span.spanID, ids.contains(parent) {
                children[parent, default: []].append(span)
            } else {
                roots.append(span)
            }
        }
        func byStart(_ a: WaterfallSpan, _ b: WaterfallSpan) -> Bool {
            (a.startUnixNano, a.endUnixNano, a.name) < (b.startUnixNano, b.endUnixNano, b.name)
        }
        // Depth-first, children by start; `visited` guards against cycles in hostile input.
        var rows: [(span: WaterfallSpan, depth: Int)] = []
        var visited: Set<String> = []
        func visit(_ span: WaterfallSpan, depth: Int) {
            guard visited.insert(span.spanID).inserted else { return }
            rows.append((span, depth))
            for child in (children[span.spanID] ?? []).sorted(by: byStart) { visit(child, depth: depth + 1) }
        }
        for root in roots.sorted(by: byStart) { visit(root, depth: 0) }

        let origin = spans.map(\.startUnixNano).min() ?? 0
        let total = max(1, (spans.map(\.endUnixNano).max() ?? origin) - origin)
        func ms(_ nanoseconds: UInt64) -> String { format(Double(nanoseconds) / 1e6) }
        let labels = rows.map { String(repeating: "  ", count: $0.depth) + $0.span.name }
        let labelWidth = labels.map(\.count).max() ?? 0
        let offsets = rows.map { ms($0.span.startUnixNano - origin) + " ms" }
        let durations = rows.map { ms($0.span.endUnixNano - $0.span.startUnixNano) + " ms" }
        let offsetWidth = offsets.map(\.count).max() ?? 0
        let durationWidth = durations.map(\.count).max() ?? 0

        var out = "startup waterfall: \(rows.count) span\(rows.count == 1 ? "" : "s"), 0–\(ms(total)) ms\n"
        for (index, row) in rows.enumerated() {
            let span = row.span
            let first = Int((Double(span.startUnixNano - origin) / Double(total) * Double(barWidth)).rounded(.down))
            let last = Int((Double(span.endUnixNano - origin) / Double(total) * Double(barWidth)).rounded(.up))
            let begin = min(max(0, first), barWidth - 1)
            let length = max(1, min(barWidth, last) - begin)
            let bar = String(repeating: "█", count: length)
            let before = String(repeating: " ", count: begin)
            let after = String(repeating: " ", count: max(0, barWidth - begin - length))
            let painted: String
            switch style {
            case .plain: painted = bar
            case .colour:
                let colour = switch span.status {
                case .ok: "\u{1B}[32m"
                case .unset: "\u{1B}[36m"
                case .error: "\u{1B}[31m"
                }
                painted = colour + bar + "\u{1B}[0m"
            }
            var line = pad(labels[index], labelWidth) + "  " + padLeft(offsets[index], offsetWidth) + "  "
                + padLeft(durations[index], durationWidth) + "  |" + before + painted + after + "|"
            if span.status == .error { line += style == .colour ? "  \u{1B}[31m✗ error\u{1B}[0m" : "  ✗ error" }
            out += line + "\n"
        }
        return out
    }

    static func format(_ milliseconds: Double) -> String {
        let tenths = Int((milliseconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
