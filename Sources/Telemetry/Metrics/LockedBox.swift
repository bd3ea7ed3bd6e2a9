// A value guarded by a pthread mutex (NSLock). Used instead of Synchronization.Mutex because
// ThreadSanitizer sees pthread locking but not the prebuilt Mutex's futex calls, which made the
// concurrency tests report false races.

import Foundation

final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access to the value.
    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
