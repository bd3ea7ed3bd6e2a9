// Deadlines on the monotonic clock are whole nanoseconds: the transport's I/O loops and the
// gRPC `grpc-timeout` header both convert a `Duration` this way.

extension Duration {
    /// Whole nanoseconds, saturating at 0 and at UInt64.max.
    package var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let (product, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return product &+ UInt64(attoseconds / 1_000_000_000)
    }
}
