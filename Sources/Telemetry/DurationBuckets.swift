// The fixed duration histogram boundaries, shared by the swift-metrics Timer back-end and
// MetricsClient's duration histograms (TelemetrySession).

/// Fixed histogram bucket boundaries for durations (upper bounds, inclusive).
public enum DurationBuckets {
    /// In milliseconds, as `MetricsClient.recordDuration(_:_:tags:)` records.
    ///
    /// The seed (codex-otel) fixes `0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 1250 … 120000`;
    /// its exact list past 1250 is not in our reference, so we continue the same shape — fine
    /// steps where interactive latencies live, coarser towards the two-minute cap:
    /// `1250, 1500, 1750, 2000` (250 ms steps), `2500, 3000, 4000, 5000, 7500, 10000, 15000,
    /// 20000, 30000, 45000, 60000, 90000, 120000`. Values above 120000 fall in the overflow bucket.
    public static let milliseconds: [Double] = [
        0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 4000, 5000,
        7500, 10000, 15000, 20000, 30000, 45000, 60000, 90000, 120000,
    ]

    /// The same boundaries in seconds (``TelemetryMetricsFactory``'s `Timer`s,
    /// `MetricsClient.recordDurationSeconds(_:_:tags:)`).
    public static let seconds: [Double] = milliseconds.map { $0 / 1000 }
}
