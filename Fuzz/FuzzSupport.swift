// Shared by the libFuzzer targets (compiled into each).

/// Stops the run with `message` when `condition` is false. Unlike `precondition`, whose message
/// an -O build drops, the message is printed: it names the property the input broke.
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
