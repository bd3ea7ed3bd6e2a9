import Benchmark

// Placeholder: this suite's benchmarks arrive with its issue.
let benchmarks: @Sendable () -> Void = {}
