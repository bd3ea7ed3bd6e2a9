#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The library's own threads for export work: a Swift task executor and a timer queue.
///
/// Export lanes, encodes, retry back-offs, flush and shutdown deadlines run here, never only on
/// the global cooperative pool: a service whose own tasks keep every pool thread busy still
/// exports. Tasks started with this executor as their preference (`Task(executorPreference:)`,
/// `withTaskExecutorPreference`) run their nonisolated code, and resume from every suspension
/// (continuations resumed by the transport's I/O threads, ``sleep(for:)``), on these threads.
///
/// ``shared`` is the process-wide instance: `threadCount` threads named `otlp-export-N`, started
/// on first use and idle (blocked on a condition variable) while there is nothing to do. Size it
/// with the environment variable `SWIFT_OTLP_EXPORT_THREADS` (default 2): more threads let more
/// batches encode at once; export I/O itself runs on the transport's connection threads.
public final class ExportExecutor: TaskExecutor, @unchecked Sendable {
    /// The process-wide export executor.
    public static let shared = ExportExecutor(name: "otlp-export", threadCount: defaultThreadCount)

    /// `SWIFT_OTLP_EXPORT_THREADS` when set to 1...64, else 2.
    public static var defaultThreadCount: Int {
        if let text = getenv("SWIFT_OTLP_EXPORT_THREADS").map({ String(cString: $0) }),
           let count = Int(text), (1...64).contains(count) {
            return count
        }
        return 2
    }

    /// Number of threads.
    public let threadCount: Int
    private let name: String
    private let lock = ConditionLock()
    // Guarded by `lock`:
    private var jobs = JobQueue()
    private var timers = TimerHeap()
    private var timerActions: [UInt64: @Sendable () -> Void] = [:]
    private var nextTimerID: UInt64 = 1
    private var idleThreads = 0
    private var started = false

    /// An executor with `threadCount` threads named `name-0`, `name-1`, ... (started on first use).
    public init(name: String, threadCount: Int) {
        precondition(threadCount >= 1, "an executor needs a thread")
        self.name = name
        self.threadCount = threadCount
    }

    // MARK: TaskExecutor

    public func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        lock.withLock {
            startThreadsIfNeeded()
            jobs.append(unownedJob)
            if idleThreads > 0 { lock.signal() }
        }
    }

    // MARK: Timers

    /// A scheduled timer, for ``cancel(_:)``.
    public struct Timer: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    /// Runs `action` on one of the executor's threads at `deadline` (``monotonicNanos()``) or
    /// soon after. Actions must be short (resume a continuation, signal): they delay other work.
    @discardableResult
    public func schedule(atMonotonic deadline: UInt64, _ action: @escaping @Sendable () -> Void) -> Timer {
        lock.withLock {
            startThreadsIfNeeded()
            let id = nextTimerID
            nextTimerID += 1
            let earliest = timers.first?.deadline ?? .max
            timers.insert(TimerHeap.Entry(deadline: deadline, id: id))
            timerActions[id] = action
            // A thread waiting for a later deadline must recompute its wait.
            if deadline < earliest { lock.broadcast() }
            return Timer(id: id)
        }
    }

    /// ``schedule(atMonotonic:_:)`` after `delay`.
    @discardableResult
    public func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> Timer {
        let now = monotonicNanos()
        let nanos = delay.clampedNanoseconds
        return schedule(atMonotonic: now > UInt64.max - nanos ? .max : now &+ nanos, action)
    }

    /// Cancels `timer`. Returns `true` when its action had not run yet (and now never will).
    @discardableResult
    public func cancel(_ timer: Timer) -> Bool {
        lock.withLock { timerActions.removeValue(forKey: timer.id) != nil }
    }

    /// Suspends the calling task until `deadline` (``monotonicNanos()``), woken by one of the
    /// executor's threads, not by the cooperative pool's timer. Throws `CancellationError` when
    /// the task is cancelled first.
    public func sleep(untilMonotonic deadline: UInt64) async throws {
        if deadline <= monotonicNanos() {
            try Task.checkCancellation()
            return
        }
        let sleeper = Sleeper()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                guard sleeper.install(continuation) else {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                let timer = schedule(atMonotonic: deadline) { sleeper.finish(nil) }
                if !sleeper.setTimer(timer) { cancel(timer) }
            }
        } onCancel: {
            if let timer = sleeper.finish(CancellationError()) { self.cancel(timer) }
        }
    }

    /// ``sleep(untilMonotonic:)`` for `duration`.
    public func sleep(for duration: Duration) async throws {
        let now = monotonicNanos()
        let nanos = duration.clampedNanoseconds
        try await sleep(untilMonotonic: now > UInt64.max - nanos ? .max : now &+ nanos)
    }

    // MARK: Threads

    private func startThreadsIfNeeded() {
        guard !started else { return }
        started = true
        for index in 0..<threadCount {
            let box = Unmanaged.passRetained(ThreadStart(executor: self, name: "\(name)-\(index)")).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { argument in
                let start = Unmanaged<ThreadStart>.fromOpaque(argument!).takeRetainedValue()
                start.run()
                return nil
            }, box)
            precondition(rc == 0, "could not start an export thread: \(rc)")
            pthread_detach(thread)
        }
    }

    private final class ThreadStart {
        let executor: ExportExecutor
        let name: String
        init(executor: ExportExecutor, name: String) {
            self.executor = executor
            self.name = name
        }
        func run() {
            nameCurrentThread(name)
            executor.runThread()
        }
    }

    /// A thread's loop: due timers, then jobs, else wait for either. Due timers go first so that
    /// a steady stream of jobs (encoding, other providers' exports) cannot hold a flush or
    /// shutdown deadline or a retry back-off past its time.
    private func runThread() -> Never {
        let unownedSelf = asUnownedTaskExecutor()
        lock.lock()
        while true {
            if let first = timers.first, first.deadline <= monotonicNanos() {
                timers.removeFirst()
                if let action = timerActions.removeValue(forKey: first.id) {
                    lock.unlock()
                    action()
                    lock.lock()
                }
                continue
            }
            if let job = jobs.popFirst() {
                lock.unlock()
                job.runSynchronously(on: unownedSelf)
                lock.lock()
                continue
            }
            if let first = timers.first {
                idleThreads += 1
                lock.wait(untilMonotonic: first.deadline)
                idleThreads -= 1
            } else {
                idleThreads += 1
                lock.wait()
                idleThreads -= 1
            }
        }
    }
}

/// One sleeping task's continuation, resumed exactly once by its timer or its cancellation.
private final class Sleeper: @unchecked Sendable {
    private let lock = LockedValue<(continuation: CheckedContinuation<Void, any Error>?, timer: ExportExecutor.Timer?, done: Bool)>(
        (nil, nil, false))

    /// Stores the continuation; `false` when the sleep was already cancelled.
    func install(_ continuation: CheckedContinuation<Void, any Error>) -> Bool {
        lock.withLock { state in
            if state.done { return false }
            state.continuation = continuation
            return true
        }
    }

    /// Remembers the timer for a later cancellation; `false` when the sleep already ended.
    func setTimer(_ timer: ExportExecutor.Timer) -> Bool {
        lock.withLock { state in
            if state.done { return false }
            state.timer = timer
            return true
        }
    }

    /// Ends the sleep (with `error`, or normally); returns the timer to cancel, if any.
    @discardableResult
    func finish(_ error: (any Error)?) -> ExportExecutor.Timer? {
        let (continuation, timer) = lock.withLock { state -> (CheckedContinuation<Void, any Error>?, ExportExecutor.Timer?) in
            if state.done { return (nil, nil) }
            state.done = true
            defer { state.continuation = nil }
            return (state.continuation, state.timer)
        }
        if let error { continuation?.resume(throwing: error) } else { continuation?.resume() }
        return timer
    }
}

/// A growable circular buffer of jobs (first in, first out).
private struct JobQueue {
    private var storage: [UnownedJob?] = Array(repeating: nil, count: 64)
    private var head = 0
    private var count = 0

    mutating func append(_ job: UnownedJob) {
        if count == storage.count {
            var grown: [UnownedJob?] = Array(repeating: nil, count: storage.count * 2)
            for offset in 0..<count { grown[offset] = storage[(head + offset) & (storage.count - 1)] }
            storage = grown
            head = 0
        }
        storage[(head + count) & (storage.count - 1)] = job
        count += 1
    }

    mutating func popFirst() -> UnownedJob? {
        guard count > 0 else { return nil }
        let job = storage[head]
        storage[head] = nil
        head = (head + 1) & (storage.count - 1)
        count -= 1
        return job
    }
}

/// A binary min-heap of timer deadlines.
private struct TimerHeap {
    struct Entry {
        var deadline: UInt64
        var id: UInt64
        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : id < other.id
        }
    }
    private var entries: [Entry] = []

    var first: Entry? { entries.first }

    mutating func insert(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeFirst() {
        let last = entries.removeLast()
        guard !entries.isEmpty else { return }
        entries[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < entries.count, entries[left].precedes(entries[smallest]) { smallest = left }
            if right < entries.count, entries[right].precedes(entries[smallest]) { smallest = right }
            if smallest == parent { return }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// Names the calling thread (as `top -H`, `ps -L` and debuggers show it; Linux keeps 15 bytes).
/// Through `/proc/thread-self/comm`: Glibc's module map does not export `pthread_setname_np`.
public func nameCurrentThread(_ name: String) {
    #if os(Linux)
    let fd = open("/proc/thread-self/comm", O_WRONLY)
    guard fd >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    #endif
}
