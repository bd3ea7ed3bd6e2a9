// The time rules of a server connection as a pure function of its state: which timeout has
// expired, and when the next one falls due. No sockets, tested directly.

/// What a server connection's clock says, from a snapshot of its state.
struct ServerConnectionTimeouts {
    /// A connection's state, as far as time is concerned (monotonic nanoseconds).
    struct State: Equatable {
        /// Last byte received.
        var lastActivity: UInt64
        /// Last byte written (meaningful while output is pending).
        var lastWriteProgress: UInt64
        /// Output waiting for the client to read it.
        var hasPendingOutput = false
        /// First byte of the HTTP/1.1 request (or TLS handshake, or protocol preface) in progress.
        var requestStartedAt: UInt64?
        /// Start of the oldest HTTP/2 stream whose request has not fully arrived.
        var oldestIncompleteStreamStart: UInt64?
        /// Open HTTP/2 streams, or answers held back by a delay: the connection is not idle.
        var hasOpenRequests = false
        /// The earliest delayed answer.
        var nextDelayedAnswer: UInt64?
        /// End of a lingering close.
        var lingerUntil: UInt64?
    }

    /// What to do now.
    enum Expiry: Equatable {
        case none
        /// A request (or handshake, or preface) did not arrive within the read timeout.
        case slowRequest
        /// No request and no bytes for the idle timeout, or pending output unread as long.
        case idle
        /// The lingering close is over.
        case lingerOver
    }

    let requestReadTimeout: UInt64
    let idleTimeout: UInt64

    init(requestReadTimeout: Duration, idleTimeout: Duration) {
        self.requestReadTimeout = requestReadTimeout.nanoseconds
        self.idleTimeout = idleTimeout.nanoseconds
    }

    private func isIdle(_ state: State) -> Bool {
        !state.hasOpenRequests && state.requestStartedAt == nil && state.oldestIncompleteStreamStart == nil
    }

    /// The timeout that has expired at `now`, slow requests first.
    func expiry(_ state: State, now: UInt64) -> Expiry {
        if let lingerUntil = state.lingerUntil { return now >= lingerUntil ? .lingerOver : .none }
        if let start = state.requestStartedAt, now >= start &+ requestReadTimeout { return .slowRequest }
        if let start = state.oldestIncompleteStreamStart, now >= start &+ requestReadTimeout { return .slowRequest }
        if isIdle(state) && now >= state.lastActivity &+ idleTimeout { return .idle }
        if state.hasPendingOutput && now >= state.lastWriteProgress &+ idleTimeout { return .idle }
        return .none
    }

    /// When something falls due next (a timeout or a delayed answer), nil when nothing will.
    /// Only deadlines that can fire are included: a deadline already past that cannot fire would
    /// wake the loop again and again.
    func nextDeadline(_ state: State) -> UInt64? {
        if let lingerUntil = state.lingerUntil { return lingerUntil }
        var next = UInt64.max
        if let delayed = state.nextDelayedAnswer { next = min(next, delayed) }
        if let start = state.requestStartedAt { next = min(next, start &+ requestReadTimeout) }
        if let start = state.oldestIncompleteStreamStart { next = min(next, start &+ requestReadTimeout) }
        if isIdle(state) { next = min(next, state.lastActivity &+ idleTimeout) }
        if state.hasPendingOutput { next = min(next, state.lastWriteProgress &+ idleTimeout) }
        return next == .max ? nil : next
    }
}
