// Pieces shared by the OTLP/gRPC and OTLP/HTTP exporters: options, counters, a concurrency
// limit, rate-limited diagnostics and the retrying export core.
import HTTPTransportCore
import OTLPSync
import Synchronization
import TelemetryCore
import TelemetryPipeline

/// Asked before every export attempt for extra headers (e.g. a freshly refreshed bearer token).
/// Returned names are lower-cased; they override static headers of the same name.
public typealias OTLPHeaderProvider = @Sendable () async -> [String: String]

/// Options of an exporter that are not part of the (environment-derived) configuration.
public struct OTLPExportOptions: Sendable {
    /// Exports allowed in flight at once on the exporter's one connection. Default 4.
    public var maxConcurrentExports: Int
    /// Largest request body (before compression) that is sent. OTLP/gRPC: 64 MiB (grpc's usual
    /// server limit); a larger request is split when its type allows it, else dropped and counted.
    public var maxRequestBytes: Int
    /// Asked before every attempt for extra headers.
    public var headerProvider: OTLPHeaderProvider?
    /// Where diagnostics (partial success, give-ups, drops) go. Default: standard error.
    public var diagnostics: @Sendable (String) -> Void
    /// Partial-success messages are reported at most once per this interval. Default 60 s.
    public var diagnosticsInterval: Duration
    /// Clock for backoff, timeouts and rate limiting. Default: the system clock.
    public var clock: any OTLPExportClock
    /// Jitter source. Default: the system random number generator.
    public var random: any OTLPRandomSource

    /// 64 MiB.
    public static let defaultMaxRequestBytes = 64 << 20

    public init(maxConcurrentExports: Int = 4, maxRequestBytes: Int = OTLPExportOptions.defaultMaxRequestBytes,
                headerProvider: OTLPHeaderProvider? = nil,
                diagnostics: @escaping @Sendable (String) -> Void = OTLPExportOptions.standardError,
                diagnosticsInterval: Duration = .seconds(60),
                clock: any OTLPExportClock = OTLPSystemClock(), random: any OTLPRandomSource = OTLPSystemRandom()) {
        self.maxConcurrentExports = max(1, maxConcurrentExports)
        self.maxRequestBytes = maxRequestBytes
        self.headerProvider = headerProvider
        self.diagnostics = diagnostics
        self.diagnosticsInterval = diagnosticsInterval
        self.clock = clock
        self.random = random
    }

    /// Writes a line to standard error.
    @Sendable public static func standardError(_ message: String) {
        var line = "swift-otlp: " + message + "\n"
        line.withUTF8 { bytes in _ = fwriteStderr(bytes) }
    }
}

#if canImport(Glibc)
import Glibc
private func fwriteStderr(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    write(2, bytes.baseAddress, bytes.count)
}
#endif

/// Item counts of one exporter. Every item handed to `export` ends in exactly one of
/// `exported`, `rejected`, `failed` or `dropped`.
public struct OTLPExportCounts: Sendable, Hashable, CustomStringConvertible {
    /// Items the server accepted.
    public var exported: Int = 0
    /// Items the server refused in a partial success (never retried).
    public var rejected: Int = 0
    /// Items lost to a non-retryable failure or to retries giving up.
    public var failed: Int = 0
    /// Items never sent because their request exceeded the size cap.
    public var dropped: Int = 0
    /// Export requests made (not counting retries) and retries.
    public var requests: Int = 0
    public var retries: Int = 0

    public init() {}

    public var description: String {
        "exported=\(exported) rejected=\(rejected) failed=\(failed) dropped=\(dropped) requests=\(requests) retries=\(retries)"
    }
}

/// A counting semaphore for async code (FIFO).
final class AsyncLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }
    private let state: LockedValue<State>

    init(limit: Int) { state = LockedValue(State(available: limit)) }

    func acquire() async {
        let acquired = state.withLock { s -> Bool in
            if s.available > 0 { s.available -= 1; return true }
            return false
        }
        if acquired { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.available > 0 { s.available -= 1; return true }
                s.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.head < s.waiters.count {
                let c = s.waiters[s.head]
                s.head += 1
                if s.head == s.waiters.count { s.waiters.removeAll(keepingCapacity: true); s.head = 0 }
                return c  // the permit passes straight to the waiter
            }
            s.available += 1
            return nil
        }
        next?.resume()
    }
}

/// Reports a message at most once per interval (per key); counts what it held back.
final class RateLimitedReporter: Sendable {
    private struct State { var last: [String: Duration] = [:]; var suppressed: [String: Int] = [:] }
    private let state = LockedValue(State())
    private let interval: Duration
    private let clock: any OTLPExportClock
    private let sink: @Sendable (String) -> Void

    init(interval: Duration, clock: any OTLPExportClock, sink: @escaping @Sendable (String) -> Void) {
        self.interval = interval
        self.clock = clock
        self.sink = sink
    }

    func report(key: String, _ message: @autoclosure () -> String) {
        let now = clock.now()
        let suppressed = state.withLock { s -> Int? in
            if let last = s.last[key], now - last < interval {
                s.suppressed[key, default: 0] += 1
                return nil
            }
            s.last[key] = now
            return s.suppressed.removeValue(forKey: key) ?? 0
        }
        guard let suppressed else { return }
        sink(suppressed > 0 ? "\(message()) (\(suppressed) similar message(s) suppressed)" : message())
    }
}

/// The retrying, counting, concurrency-limited core under both exporters.
final class OTLPExportCore: Sendable {
    let signal: TelemetrySignal
    let options: OTLPExportOptions
    let staticHeaders: [String: String]
    private let limiter: AsyncLimiter
    private let counts = LockedValue(OTLPExportCounts())
    private let reporter: RateLimitedReporter
    private let loop: OTLPRetryLoop

    init(signal: TelemetrySignal, retry: OTLPRetryPolicy, headers: [String: String], options: OTLPExportOptions) {
        self.signal = signal
        self.options = options
        self.staticHeaders = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.limiter = AsyncLimiter(limit: options.maxConcurrentExports)
        self.reporter = RateLimitedReporter(interval: options.diagnosticsInterval, clock: options.clock, sink: options.diagnostics)
        self.loop = OTLPRetryLoop(policy: retry, clock: options.clock, random: options.random)
    }

    var snapshot: OTLPExportCounts { counts.withLock { $0 } }

    /// Static headers merged with the provider's, as sorted fields.
    func currentHeaders() async -> [HTTPField] {
        var merged = staticHeaders
        if let provider = options.headerProvider {
            for (name, value) in await provider() { merged[name.lowercased()] = value }
        }
        return merged.sorted { $0.key < $1.key }.map { HTTPField($0.key, $0.value) }
    }

    /// Counts a request that is never sent because it is over the size cap.
    func drop(itemCount: Int, bytes: Int) {
        counts.withLock { $0.dropped += itemCount }
        reporter.report(key: "oversize", "\(signal) export of \(itemCount) item(s) dropped: \(bytes) bytes exceed the \(options.maxRequestBytes)-byte cap")
    }

    /// Runs `attempt` under the concurrency limit and the retry policy, and counts the result.
    func run(itemCount: Int, attempt: @Sendable (Int) async -> OTLPAttemptOutcome) async -> OTLPExportResult {
        await limiter.acquire()
        let result = await loop.run(attempt)
        limiter.release()
        counts.withLock { c in
            c.requests += 1
            c.retries += result.attempts - 1
            switch result {
            case .delivered(let partial, _):
                let rejected = Int(clamping: max(0, min(Int64(itemCount), partial?.rejectedItems ?? 0)))
                c.rejected += rejected
                c.exported += itemCount - rejected
            case .rejected, .gaveUp:
                c.failed += itemCount
            }
        }
        switch result {
        case .delivered(let partial?, _):
            reporter.report(key: "partial",
                            "\(signal) export partially accepted: \(partial.rejectedItems) rejected: \(partial.errorMessage)")
        case .delivered:
            break
        case .rejected(let reason, _):
            reporter.report(key: "rejected", "\(signal) export of \(itemCount) item(s) failed: \(reason)")
        case .gaveUp(let reason, _):
            reporter.report(key: "gaveUp", "\(signal) export of \(itemCount) item(s) failed: \(reason)")
        }
        return result
    }
}
