// Runtime metrics (settings.runtimeMetrics), as codex-otel means them: a per-session summary of
// what the session spent its time on — tool calls, API requests, streaming (SSE) events,
// WebSocket requests and events: how many, and their total duration — read on demand (e.g. to
// show at the end of a turn) and reset between turns. Kept by SessionTelemetry itself from the
// same calls that record the `<ns>.tool.call`, `<ns>.api_request`, … metrics, so it works with the
// metrics exporter off too.

import OTLPSync
import Telemetry

/// A count and a total duration.
public struct RuntimeMetricTotals: Sendable, Hashable {
    /// How many (the counter's increments).
    public var count: UInt64
    /// Their total duration in milliseconds (sum of the recorded durations, rounded).
    public var durationMs: UInt64

    public init(count: UInt64 = 0, durationMs: UInt64 = 0) {
        self.count = count
        self.durationMs = durationMs
    }

    /// `true` when both are zero.
    public var isEmpty: Bool { count == 0 && durationMs == 0 }

    /// Adds `other` (saturating).
    public mutating func merge(_ other: RuntimeMetricTotals) {
        count = count.addingReportingOverflow(other.count).overflow ? .max : count + other.count
        durationMs = durationMs.addingReportingOverflow(other.durationMs).overflow ? .max : durationMs + other.durationMs
    }
}

/// What a session did since the last reset (codex-otel's `RuntimeMetricsSummary`, without its
/// Responses-API engine timings, which this SDK's session events do not carry).
public struct RuntimeMetricsSummary: Sendable, Hashable {
    /// `<ns>.tool.call` / `<ns>.tool.call.duration_ms`.
    public var toolCalls = RuntimeMetricTotals()
    /// `<ns>.api_request` / `<ns>.api_request.duration_ms`.
    public var apiCalls = RuntimeMetricTotals()
    /// `<ns>.sse_event` / `<ns>.sse_event.duration_ms`.
    public var streamingEvents = RuntimeMetricTotals()
    /// `<ns>.websocket.request` / `<ns>.websocket.request.duration_ms`.
    public var websocketCalls = RuntimeMetricTotals()
    /// `<ns>.websocket.event` / `<ns>.websocket.event.duration_ms`.
    public var websocketEvents = RuntimeMetricTotals()

    public init() {}

    /// `true` when nothing was recorded.
    public var isEmpty: Bool {
        toolCalls.isEmpty && apiCalls.isEmpty && streamingEvents.isEmpty && websocketCalls.isEmpty && websocketEvents.isEmpty
    }

    /// Adds `other`'s totals.
    public mutating func merge(_ other: RuntimeMetricsSummary) {
        toolCalls.merge(other.toolCalls)
        apiCalls.merge(other.apiCalls)
        streamingEvents.merge(other.streamingEvents)
        websocketCalls.merge(other.websocketCalls)
        websocketEvents.merge(other.websocketEvents)
    }
}

/// The running totals behind ``SessionTelemetry/runtimeMetricsSummary()`` (durations kept
/// unrounded until read).
final class RuntimeMetricsAccumulator: Sendable {
    private struct Totals {
        var counts = [UInt64](repeating: 0, count: 5)
        var milliseconds = [Double](repeating: 0, count: 5)
    }
    private let totals = LockedValue(Totals())

    /// The slot of a metric name (without the namespace) and whether it is the duration.
    static func slot(_ name: String) -> (index: Int, isDuration: Bool)? {
        let isDuration = name.hasSuffix(".duration_ms")
        let base = isDuration ? String(name.dropLast(".duration_ms".count)) : name
        let index: Int? = switch base {
        case "tool.call": 0
        case "api_request": 1
        case "sse_event": 2
        case "websocket.request": 3
        case "websocket.event": 4
        default: nil
        }
        return index.map { ($0, isDuration) }
    }

    func count(_ name: String, _ increment: Int64) {
        guard increment > 0, let (index, isDuration) = Self.slot(name), !isDuration else { return }
        totals.withLock { $0.counts[index] &+= UInt64(increment) }
    }

    func duration(_ name: String, _ duration: Duration) {
        guard let (index, isDuration) = Self.slot(name), isDuration else { return }
        let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        guard ms.isFinite, ms > 0 else { return }
        totals.withLock { $0.milliseconds[index] += ms }
    }

    func summary(reset: Bool) -> RuntimeMetricsSummary {
        let snapshot = totals.withLock { totals in
            defer { if reset { totals = Totals() } }
            return totals
        }
        func totalsAt(_ i: Int) -> RuntimeMetricTotals {
            let ms = snapshot.milliseconds[i]
            return RuntimeMetricTotals(count: snapshot.counts[i], durationMs: ms >= Double(UInt64.max) ? .max : UInt64(ms.rounded()))
        }
        var summary = RuntimeMetricsSummary()
        summary.toolCalls = totalsAt(0)
        summary.apiCalls = totalsAt(1)
        summary.streamingEvents = totalsAt(2)
        summary.websocketCalls = totalsAt(3)
        summary.websocketEvents = totalsAt(4)
        return summary
    }
}

extension SessionTelemetry {
    /// The session's runtime metrics since the last reset; `nil` when runtime metrics are off
    /// (``TelemetrySettings/runtimeMetrics``, or `runtimeMetrics:` of the initializer).
    public func runtimeMetricsSummary() -> RuntimeMetricsSummary? {
        runtimeMetrics?.summary(reset: false)
    }

    /// Returns the runtime metrics since the last reset and starts over (e.g. once per turn).
    @discardableResult
    public func resetRuntimeMetrics() -> RuntimeMetricsSummary? {
        runtimeMetrics?.summary(reset: true)
    }
}
