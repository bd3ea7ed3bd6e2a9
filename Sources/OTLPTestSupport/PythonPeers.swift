import Foundation
import Testing

/// Whether the Python reference peers (the venv made by `tools/setup.sh`: grpcio and the
/// reference `opentelemetry-proto`) can run, and the trait that skips a test without them.
///
/// A fresh clone's `swift test` skips the tests that need them with one message. `tools/test.sh`
/// exports `OTLP_REQUIRE_PEERS=1`: then every such test runs, and an absent venv fails it
/// instead of skipping it.
public enum PythonPeers {
    /// Why a test was skipped.
    public static let absentMessage: Comment = "Python reference peers absent: run tools/setup.sh (or set OTLP_TEST_PYTHON)"

    /// `OTLP_REQUIRE_PEERS=1`: absent peers are a failure, not a skip.
    public static var required: Bool { ProcessInfo.processInfo.environment["OTLP_REQUIRE_PEERS"] == "1" }

    /// The venv's interpreter (``TestEnvironment/python``) exists and is executable.
    public static var installed: Bool { FileManager.default.isExecutableFile(atPath: TestEnvironment.python) }

    /// Whether tests that need the peers run: they are installed, or they are required.
    public static var available: Bool { installed || required }

    /// `.enabled(if: PythonPeers.available, PythonPeers.absentMessage)`: put it on every suite or
    /// test that starts a Python peer.
    public static var trait: ConditionTrait { .enabled(if: available, absentMessage) }
}
