/// Polls `condition` every 10 ms until it holds or `timeout` passes; whether it held. For effects
/// that land on another thread (an export, a connection closing, a thread exiting).
public func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
