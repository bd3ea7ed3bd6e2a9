// Runs export attempts until one succeeds, one fails for good, or the retry budget is spent.

/// The final result of exporting one request (after any retries).
public enum OTLPExportResult: Sendable, Hashable {
    /// Delivered; `partialSuccess` names items the server rejected.
    case delivered(partialSuccess: OTLPPartialSuccess?, attempts: Int)
    /// A non-retryable failure: the request's items are lost.
    case rejected(reason: String, attempts: Int)
    /// Retryable failures until the policy's `maxElapsedTime` would have been passed (or the
    /// export was cancelled): the request's items are lost.
    case gaveUp(reason: String, attempts: Int)

    /// Whether the request reached the server and was accepted (possibly partially).
    public var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }

    /// Number of attempts made.
    public var attempts: Int {
        switch self {
        case .delivered(_, let n), .rejected(_, let n), .gaveUp(_, let n): n
        }
    }
}

/// Exponential backoff with jitter around export attempts, on an injected clock.
public struct OTLPRetryLoop: Sendable {
    public var policy: OTLPRetryPolicy
    public var clock: any OTLPExportClock
    public var random: any OTLPRandomSource

    public init(policy: OTLPRetryPolicy, clock: any OTLPExportClock = OTLPSystemClock(),
                random: any OTLPRandomSource = OTLPSystemRandom()) {
        self.policy = policy
        self.clock = clock
        self.random = random
    }

    /// Calls `attempt` (with the 1-based attempt number) until it succeeds or fails for good.
    ///
    /// After a retryable failure the loop waits the longer of the policy's jittered backoff and
    /// the server's requested delay (RetryInfo / Retry-After). If that wait would end after
    /// `maxElapsedTime` since the first attempt began, it gives up instead of waiting.
    public func run(_ attempt: (Int) async -> OTLPAttemptOutcome) async -> OTLPExportResult {
        let start = clock.now()
        var attempts = 0
        while true {
            attempts += 1
            switch await attempt(attempts) {
            case .success(let partial):
                return .delivered(partialSuccess: partial, attempts: attempts)
            case .permanent(let reason):
                return .rejected(reason: reason, attempts: attempts)
            case .retryable(let reason, let minimumDelay):
                let backoff = policy.backoff(retry: attempts, unitRandom: random.nextUnit())
                let wait = max(backoff, minimumDelay ?? .zero)
                let elapsed = clock.now() - start
                if elapsed + wait > policy.maxElapsedTime {
                    return .gaveUp(reason: "\(reason); gave up after \(attempts) attempt(s)", attempts: attempts)
                }
                do {
                    try await clock.sleep(for: wait)
                } catch {
                    return .gaveUp(reason: "\(reason); cancelled while waiting to retry", attempts: attempts)
                }
            }
        }
    }
}
