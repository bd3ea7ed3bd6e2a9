// Start-up phases recorded before any session exists (process start, configuration load,
// authentication, first connection, …): kept process-wide until the first session takes them
// over and emits them with its metadata; a process that never creates a session exports them at
// its telemetry's shutdown.

import Foundation
import OTLPSync
import Telemetry

/// One start-up phase with its real start and end (Unix nanoseconds).
public struct RecordedStartupPhase: Sendable, Hashable {
    /// Which phase.
    public var phase: StartupPhase
    /// How it ended.
    public var status: StartupStatus
    /// When it started, Unix nanoseconds.
    public var startUnixNano: UInt64
    /// When it ended, Unix nanoseconds (never before the start).
    public var endUnixNano: UInt64

    public init(phase: StartupPhase, status: StartupStatus = .success, startUnixNano: UInt64, endUnixNano: UInt64) {
        self.phase = phase
        self.status = status
        self.startUnixNano = startUnixNano
        self.endUnixNano = max(startUnixNano, endUnixNano)
    }

    /// `end - start`.
    public var duration: Duration { .nanoseconds(Int64(clamping: endUnixNano - startUnixNano)) }
}

/// Records start-up phases before any session exists, process-wide (``shared``).
///
/// ```swift
/// StartupRecorder.shared.recordProcessStart()                     // exec → now
/// let settings = try StartupRecorder.shared.measure(.configurationLoad) {
///     try TelemetrySettings.load(tomlFile: "config.toml").settings
/// }
/// let token = try await StartupRecorder.shared.measure(.authentication) { try await authenticate() }
/// // later: the first session created with ConfiguredTelemetry.sessionTelemetry(metadata:)
/// // emits these phases (events, phase histogram, spans under `process_startup`) with its metadata.
/// ```
///
/// The first session that takes the phases over (``takeOver()``) gets them; every session after it gets
/// only the process age (``processAge``, event `<ns>.session_started`, emitted once the
/// recorder was used at all). Phases recorded after the take-over wait for the next
/// take-over (the telemetry's shutdown, at the latest).
public final class StartupRecorder: Sendable {
    /// The process-wide recorder.
    public static let shared = StartupRecorder()

    /// When this process started (Unix nanoseconds): on Linux from `/proc/self/stat` and the boot
    /// time in `/proc/stat` (which has whole seconds, so this is within a second of the exec);
    /// elsewhere, or when those cannot be read, when the recorder was made.
    public let processStartUnixNano: UInt64
    private let now: @Sendable () -> UInt64
    private let state = LockedValue<(phases: [RecordedStartupPhase], takenOver: Bool, used: Bool)>(([], false, false))

    /// - Parameters:
    ///   - processStartUnixNano: the process start time; `nil` reads it from the system.
    ///   - now: wall clock in Unix nanoseconds (injectable for tests).
    public init(
        processStartUnixNano: UInt64? = nil, now: @escaping @Sendable () -> UInt64 = MetricsClient.wallClockNanoseconds
    ) {
        self.now = now
        self.processStartUnixNano = processStartUnixNano ?? Self.systemProcessStart() ?? now()
    }

    /// Records a phase with its real start and end.
    public func record(_ phase: RecordedStartupPhase) {
        state.withLock {
            $0.phases.append(phase)
            $0.used = true
        }
    }

    /// Records `phase` from `startUnixNano` to now.
    public func record(_ phase: StartupPhase, since startUnixNano: UInt64, status: StartupStatus = .success) {
        record(RecordedStartupPhase(phase: phase, status: status, startUnixNano: startUnixNano, endUnixNano: now()))
    }

    /// Records ``StartupPhase/processStart``: from the process's start to now.
    public func recordProcessStart(status: StartupStatus = .success) {
        record(.processStart, since: processStartUnixNano, status: status)
    }

    /// Runs `body` as phase `phase` (status `failed` when it throws).
    public func measure<T, E: Error>(_ phase: StartupPhase, _ body: () throws(E) -> T) throws(E) -> T {
        let start = now()
        do {
            let result = try body()
            record(phase, since: start)
            return result
        } catch {
            record(phase, since: start, status: .failed)
            throw error
        }
    }

    /// Runs the async `body` as phase `phase` (status `failed` when it throws, `cancelled` when
    /// it throws `CancellationError`).
    public func measure<T>(
        _ phase: StartupPhase, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T
    ) async throws -> T {
        let start = now()
        do {
            let result = try await body()
            record(phase, since: start)
            return result
        } catch {
            record(phase, since: start, status: error is CancellationError ? .cancelled : .failed)
            throw error
        }
    }

    /// The phases recorded and not yet taken over.
    public var pendingPhases: [RecordedStartupPhase] { state.withLock { $0.phases } }

    /// Whether a session already took the phases over.
    public var wasTakenOver: Bool { state.withLock { $0.takenOver } }

    /// Whether any phase was ever recorded (sessions report the process age only then).
    public var wasUsed: Bool { state.withLock { $0.used } }

    /// The time since the process started.
    public var processAge: Duration { .nanoseconds(Int64(clamping: now() &- min(now(), processStartUnixNano))) }

    /// Takes the pending phases (emptying the recorder). `first` is `true` for the first call that
    /// found the recorder never taken over (the first session).
    public func takeOver() -> (phases: [RecordedStartupPhase], first: Bool) {
        state.withLock { state in
            defer {
                state.phases = []
                state.takenOver = true
            }
            return (state.phases, !state.takenOver)
        }
    }

    /// Field 22 of `/proc/self/stat` (start time in clock ticks after boot) plus `btime` of
    /// `/proc/stat`.
    static func systemProcessStart() -> UInt64? {
        #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name (which may hold spaces) start at field 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = UInt64(fields[19]) else { return nil }
        guard let procStat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = procStat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
            let bootSeconds = UInt64(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces))
        else { return nil }
        let hertz = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        return bootSeconds * 1_000_000_000 + ticks * 1_000_000_000 / hertz
        #else
        return nil
        #endif
    }
}
