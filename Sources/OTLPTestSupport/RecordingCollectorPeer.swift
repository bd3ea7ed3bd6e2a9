import Foundation

/// The recording collector peer (`tools/peers/recording_collector.py`): every request it received,
/// as the reference JSON rendering (`json_format`: camelCase keys, 64-bit integers as strings).
public final class RecordingCollectorPeer: @unchecked Sendable {
    public let process: ChildProcess
    public let port: UInt16

    /// Starts the collector on a free port.
    public init() throws {
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("tools/peers/recording_collector.py").path
        process = try startGuardedPeer(TestEnvironment.python, ["-u", script, "--port", "0"])
        let banner = try process.waitForOutput(containing: "listening on ", timeout: 20)
        guard let line = banner.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
            let port = UInt16(line.dropFirst("listening on ".count).trimmingCharacters(in: .whitespaces))
        else {
            process.kill()
            throw ChildProcess.Failure.couldNotStart(command: "recording_collector.py", reason: "no port in \(banner)")
        }
        self.port = port
    }

    /// Stops the collector.
    public func stop() { process.kill() }

    deinit { process.kill() }

    /// `http://127.0.0.1:<port>` (h2c).
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// The requests of `signal` received so far (whole lines only).
    public func requests(_ signal: String) -> [[String: Any]] {
        let output = process.stdoutSoFar
        let whole = output.hasSuffix("\n") ? Substring(output) : output[..<(output.lastIndex(of: "\n") ?? output.startIndex)]
        let prefix = "RECEIVED \(signal) "
        return whole.split(separator: "\n").filter { $0.hasPrefix(prefix) }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.dropFirst(prefix.count).utf8)) as? [String: Any]
        }
    }

    /// Waits (at most `timeout`) until `done` holds for the requests received.
    public func waitFor(_ timeout: Duration = .seconds(15), until done: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !done(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(25)) }
    }

    /// Items (spans, data points, log records) in the requests of `signal`, flattened.
    public func items(_ signal: String) -> [[String: Any]] {
        let (outer, inner, list) = switch signal {
        case "traces": ("resourceSpans", "scopeSpans", "spans")
        case "logs": ("resourceLogs", "scopeLogs", "logRecords")
        default: ("resourceMetrics", "scopeMetrics", "metrics")
        }
        return requests(signal).flatMap { request in
            ((request[outer] as? [[String: Any]]) ?? []).flatMap { resource in
                ((resource[inner] as? [[String: Any]]) ?? []).flatMap { scope in (scope[list] as? [[String: Any]]) ?? [] }
            }
        }
    }

    /// The resource attributes of the first request of `signal`, string values only.
    public func resourceAttributes(_ signal: String) -> [String: String] {
        let outer = signal == "traces" ? "resourceSpans" : signal == "logs" ? "resourceLogs" : "resourceMetrics"
        guard let first = (requests(signal).first?[outer] as? [[String: Any]])?.first,
            let resource = first["resource"] as? [String: Any]
        else { return [:] }
        return Self.stringAttributes(resource["attributes"])
    }

    /// An OTLP/JSON attribute list as a dictionary of its string and integer values.
    public static func stringAttributes(_ list: Any?) -> [String: String] {
        var out: [String: String] = [:]
        for item in (list as? [[String: Any]]) ?? [] {
            guard let key = item["key"] as? String, let value = item["value"] as? [String: Any] else { continue }
            if let s = value["stringValue"] as? String { out[key] = s }
            if let i = value["intValue"] as? String { out[key] = i }
        }
        return out
    }
}
