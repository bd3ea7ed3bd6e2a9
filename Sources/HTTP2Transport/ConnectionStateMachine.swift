import HTTPTransportCore

/// Identifies one request on one connection (assigned by the connection when it is submitted).
public typealias RequestID = UInt64

/// The stream-admission logic of one HTTP/2 connection, free of sockets and nghttp2.
///
/// It decides when a queued request may open a stream (the peer's MAX_CONCURRENT_STREAMS and
/// our own limit), which requests fail on GOAWAY, connection loss or their deadline, and when
/// the connection may close. The connection feeds it events and carries out the returned actions.
/// Times are monotonic nanoseconds, passed in so tests are deterministic.
struct ConnectionStateMachine {
    enum State: Equatable {
        /// TCP/TLS not ready: requests queue.
        case connecting
        /// Streams may be opened.
        case ready
        /// The peer (or our own shutdown) said no new streams: active ones finish, queued ones fail.
        case goingAway
        /// Shutting down gracefully at our request: queued and active requests still finish.
        case draining
        /// Nothing more happens on this connection.
        case closed
    }

    enum Action: Equatable {
        /// Open a stream for this request now.
        case start(RequestID)
        /// Complete this request with an error (it holds no stream, or its stream is gone).
        case fail(RequestID, TransportError)
        /// Cancel the stream (RST_STREAM CANCEL) and complete its request with `deadlineExceeded`.
        case cancelStream(Int32, RequestID)
        /// Complete this request with `deadlineExceeded` but leave its stream open (its response
        /// is discarded): the reset budget is spent, `resetStream` follows when it allows.
        case abandonStream(RequestID)
        /// Reset (RST_STREAM CANCEL) a stream whose request was abandoned at its deadline.
        case resetStream(Int32)
    }

    /// How fast we may reset streams whose deadline passed: a token bucket of `burst` resets,
    /// refilled at `perSecond`. Servers close connections that reset streams too fast (the
    /// HTTP/2 rapid-reset attack, CVE-2023-44487; nghttp2 answers more than 1000 resets in a burst,
    /// then 33 a second, with GOAWAY): the default is a tenth of nghttp2's budget.
    struct ResetBudget: Equatable {
        var burst: Int
        var perSecond: Int
        static let `default` = ResetBudget(burst: 100, perSecond: 10)
    }

    private struct Queued { var id: RequestID; var deadline: UInt64 }
    private struct Active { var id: RequestID; var deadline: UInt64; var cancelled: Bool }

    private(set) var state: State = .connecting
    private var queue: [Queued] = []
    private var queueHead = 0
    private var starting: [RequestID: UInt64] = [:]
    private var active: [Int32: Active] = [:]
    private let localMaxConcurrent: Int
    private var peerMaxConcurrent: Int
    private let resetBudget: ResetBudget
    /// Resets available now (at most `resetBudget.burst`), as of `resetTokensAt`.
    private var resetTokens: Int
    private var resetTokensAt: UInt64?
    /// Streams abandoned at their deadline and not reset yet, oldest first.
    private var unreset: [Int32] = []
    /// How many of `active` are cancelled (their request ended at its deadline).
    private var cancelledCount = 0

    /// - Parameters:
    ///   - maxConcurrentStreams: our own limit; the peer's is assumed 100 until its SETTINGS.
    ///   - resetBudget: how fast streams past their deadline may be reset.
    init(maxConcurrentStreams: Int, resetBudget: ResetBudget = .default) {
        localMaxConcurrent = maxConcurrentStreams
        peerMaxConcurrent = 100
        self.resetBudget = resetBudget
        resetTokens = resetBudget.burst
    }

    /// Streams whose request was abandoned at its deadline, still open and waiting to be reset.
    var unresetCount: Int { unreset.count }

    /// Requests waiting for a stream.
    var queuedCount: Int { queue.count - queueHead }
    /// Streams open (or being opened).
    var activeCount: Int { active.count + starting.count }
    /// How many streams may be open at once now.
    var concurrencyLimit: Int { min(localMaxConcurrent, peerMaxConcurrent) }
    /// Whether new requests can still be accepted on this connection.
    var acceptsRequests: Bool { state == .connecting || state == .ready }
    /// True when the connection has nothing left to do and should close. Streams whose request
    /// already ended at its deadline (reset, or abandoned and waiting for the reset budget) do
    /// not hold a closing connection open.
    var isFinished: Bool {
        switch state {
        case .closed: return true
        case .goingAway, .draining: return queuedCount == 0 && starting.isEmpty && active.count == cancelledCount
        default: return false
        }
    }

    /// The transport is up (TCP connected, TLS done, preface sent).
    mutating func connected() -> [Action] {
        guard state == .connecting else { return [] }
        state = .ready
        return admit()
    }

    /// A new request arrives.
    mutating func enqueue(_ id: RequestID, deadline: UInt64) -> [Action] {
        var actions: [Action] = []
        enqueue(id, deadline: deadline, into: &actions)
        return actions
    }

    /// A new request arrives; the resulting actions are appended to `actions` (no allocation
    /// when it has capacity: the connection's per-request path).
    mutating func enqueue(_ id: RequestID, deadline: UInt64, into actions: inout [Action]) {
        switch state {
        case .closed:
            actions.append(.fail(id, TransportError(.connectionClosed, "connection is closed")))
        case .goingAway:
            // Not sent: safe to send again on a new connection (HTTP2Client does so once).
            actions.append(.fail(id, TransportError(.goAway, "connection is going away; request not sent")))
        case .draining:
            actions.append(.fail(id, TransportError(.shutdown, "client is shutting down", isRetryable: false)))
        case .connecting, .ready:
            queue.append(Queued(id: id, deadline: deadline))
            if state == .ready { admit(into: &actions) }
        }
    }

    /// The connection opened stream `streamID` for request `id` (after a `.start`).
    mutating func streamOpened(_ id: RequestID, streamID: Int32) {
        guard let deadline = starting.removeValue(forKey: id) else { return }
        active[streamID] = Active(id: id, deadline: deadline, cancelled: false)
    }

    /// Opening a stream for request `id` failed locally (e.g. nghttp2 ran out of stream IDs).
    mutating func streamOpenFailed(_ id: RequestID, _ error: TransportError) -> [Action] {
        starting.removeValue(forKey: id)
        return [.fail(id, error)] + admit()
    }

    /// The peer's SETTINGS changed its MAX_CONCURRENT_STREAMS.
    mutating func peerSettings(maxConcurrentStreams: Int) -> [Action] {
        peerMaxConcurrent = max(0, maxConcurrentStreams)
        return state == .ready || state == .draining ? admit() : []
    }

    /// A stream closed (completed, reset or refused); its request was completed by the connection.
    mutating func streamClosed(_ streamID: Int32) -> [Action] {
        var actions: [Action] = []
        streamClosed(streamID, into: &actions)
        return actions
    }

    /// `streamClosed(_:)`, appending the resulting actions to `actions`.
    mutating func streamClosed(_ streamID: Int32, into actions: inout [Action]) {
        guard let removed = active.removeValue(forKey: streamID) else { return }
        if removed.cancelled { cancelledCount -= 1 }
        if state == .ready || state == .draining { admit(into: &actions) }
    }

    /// The peer sent GOAWAY. Streams above `lastStreamID` are refused by nghttp2 (and close with
    /// REFUSED_STREAM); queued requests fail here as retryable so they go to a new connection.
    mutating func goAway(lastStreamID: Int32) -> [Action] {
        guard state != .closed else { return [] }
        state = .goingAway
        return failQueued(TransportError(.goAway, "server sent GOAWAY (last stream \(lastStreamID))"))
    }

    /// We shut down gracefully: no new requests; queued and active ones still run.
    mutating func shutdownGracefully() -> [Action] {
        switch state {
        case .connecting, .ready:
            let wasReady = state == .ready
            state = .draining
            return wasReady ? admit() : []
        default: return []
        }
    }

    /// The connection is gone (or could not be made): every queued and active request fails.
    mutating func connectionFailed(_ error: TransportError) -> [Action] {
        guard state != .closed else { return [] }
        state = .closed
        var actions = failQueued(error)
        for id in starting.keys.sorted() { actions.append(.fail(id, error)) }
        starting.removeAll()
        for (_, stream) in active.sorted(by: { $0.key < $1.key }) where !stream.cancelled {
            actions.append(.fail(stream.id, error))
        }
        active.removeAll()
        unreset.removeAll()
        cancelledCount = 0
        return actions
    }

    /// Fails queued requests and cancels streams whose deadline is at or before `now` (or, with
    /// the reset budget spent, abandons them and resets them later, oldest first).
    mutating func expire(now: UInt64) -> [Action] {
        var actions: [Action] = []
        refillResetTokens(now: now)
        if !unreset.isEmpty {
            var reset = 0
            while reset < unreset.count && resetTokens > 0 {
                let streamID = unreset[reset]
                reset += 1
                // A stream that closed meanwhile needs no reset.
                guard active[streamID] != nil else { continue }
                resetTokens -= 1
                actions.append(.resetStream(streamID))
            }
            unreset.removeFirst(reset)
        }
        if queuedCount > 0 {
            var kept: [Queued] = []
            for entry in queue[queueHead...] {
                if entry.deadline <= now {
                    actions.append(.fail(entry.id, TransportError(.deadlineExceeded, "deadline passed while waiting for a stream")))
                } else {
                    kept.append(entry)
                }
            }
            if !actions.isEmpty { queue = kept; queueHead = 0 }
        }
        for (streamID, stream) in active.sorted(by: { $0.key < $1.key }) where !stream.cancelled && stream.deadline <= now {
            active[streamID]!.cancelled = true
            cancelledCount += 1
            if resetTokens > 0 {
                resetTokens -= 1
                actions.append(.cancelStream(streamID, stream.id))
            } else {
                unreset.append(streamID)
                actions.append(.abandonStream(stream.id))
            }
        }
        return actions
    }

    private mutating func refillResetTokens(now: UInt64) {
        guard let since = resetTokensAt else { resetTokensAt = now; return }
        guard resetBudget.perSecond > 0, now > since else { return }
        let interval = 1_000_000_000 / UInt64(resetBudget.perSecond)
        let earned = (now - since) / interval
        if resetTokens + Int(clamping: earned) >= resetBudget.burst {
            resetTokens = resetBudget.burst
            resetTokensAt = now
        } else if earned > 0 {
            resetTokens += Int(earned)
            resetTokensAt = since + earned * interval
        }
    }

    /// The earliest deadline of any queued request or uncancelled stream.
    var nextDeadline: UInt64? {
        var earliest: UInt64?
        for entry in queue[queueHead...] { earliest = min(earliest ?? .max, entry.deadline) }
        for stream in active.values where !stream.cancelled { earliest = min(earliest ?? .max, stream.deadline) }
        for deadline in starting.values { earliest = min(earliest ?? .max, deadline) }
        if !unreset.isEmpty, resetBudget.perSecond > 0, let since = resetTokensAt {
            // When the next reset token is earned.
            earliest = min(earliest ?? .max, since + 1_000_000_000 / UInt64(resetBudget.perSecond))
        }
        return earliest
    }

    private mutating func failQueued(_ error: TransportError) -> [Action] {
        var actions: [Action] = []
        for entry in queue[queueHead...] { actions.append(.fail(entry.id, error)) }
        queue.removeAll(keepingCapacity: true)
        queueHead = 0
        return actions
    }

    private mutating func admit() -> [Action] {
        var actions: [Action] = []
        admit(into: &actions)
        return actions
    }

    private mutating func admit(into actions: inout [Action]) {
        while queueHead < queue.count && activeCount < concurrencyLimit {
            let next = queue[queueHead]
            queueHead += 1
            starting[next.id] = next.deadline
            actions.append(.start(next.id))
        }
        if queueHead == queue.count { queue.removeAll(keepingCapacity: true); queueHead = 0 }
        else if queueHead > 1024 && queueHead * 2 > queue.count { queue.removeFirst(queueHead); queueHead = 0 }
    }
}
