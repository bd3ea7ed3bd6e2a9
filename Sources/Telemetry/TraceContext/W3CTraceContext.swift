// W3C trace context as one value: propagation in HTTP header fields and in the
// TRACEPARENT / TRACESTATE environment variables.

import Foundation
import Logging

/// A `traceparent` plus its `tracestate`: what one hop hands to the next.
public struct W3CTraceContext: Sendable, Hashable, CustomStringConvertible {
    /// The header (and environment variable) names, lower case.
    public static let traceparentHeader = "traceparent"
    public static let tracestateHeader = "tracestate"

    public var traceparent: W3CTraceParent
    public var tracestate: W3CTraceState

    public init(traceparent: W3CTraceParent, tracestate: W3CTraceState = W3CTraceState()) {
        self.traceparent = traceparent
        self.tracestate = tracestate
    }

    /// Parses the two header values. An invalid `traceparent` invalidates the context; an invalid
    /// `tracestate` is discarded (W3C §3.3.1.1 allows discarding it) and the context kept.
    /// - Returns: the context (with the tracestate error, if one was dropped), or the traceparent error.
    public static func parse(
        traceparent: String?, tracestate: String?
    ) -> Result<(context: W3CTraceContext, tracestateError: W3CTraceContextError?), W3CTraceContextError> {
        guard let traceparent else {
            return .failure(W3CTraceContextError(code: .invalidTraceparent, reason: "no traceparent"))
        }
        let parent: W3CTraceParent
        do throws(W3CTraceContextError) {
            parent = try W3CTraceParent(parsing: traceparent)
        } catch {
            return .failure(error)
        }
        var state = W3CTraceState()
        var stateError: W3CTraceContextError?
        if let tracestate {
            do throws(W3CTraceContextError) {
                state = try W3CTraceState(parsing: tracestate)
            } catch {
                stateError = error
            }
        }
        return .success((W3CTraceContext(traceparent: parent, tracestate: state), stateError))
    }

    public var description: String {
        tracestate.isEmpty ? traceparent.headerValue : "\(traceparent.headerValue) (\(tracestate.headerValue))"
    }

    // MARK: HTTP header fields

    /// Writes `traceparent` and (when not empty) `tracestate` into `headers`, replacing any field
    /// of the same name regardless of case.
    public func inject(into headers: inout [(name: String, value: String)]) {
        headers.removeAll {
            let lower = $0.name.lowercased()
            return lower == Self.traceparentHeader || lower == Self.tracestateHeader
        }
        headers.append((Self.traceparentHeader, traceparent.headerValue))
        if !tracestate.isEmpty { headers.append((Self.tracestateHeader, tracestate.headerValue)) }
    }

    /// Writes `traceparent` and (when not empty) `tracestate` into `headers`, replacing any key
    /// of the same name regardless of case.
    public func inject(into headers: inout [String: String]) {
        for key in headers.keys {
            let lower = key.lowercased()
            if lower == Self.traceparentHeader || lower == Self.tracestateHeader { headers[key] = nil }
        }
        headers[Self.traceparentHeader] = traceparent.headerValue
        if !tracestate.isEmpty { headers[Self.tracestateHeader] = tracestate.headerValue }
    }

    /// Reads the context from HTTP header fields (names matched case-insensitively). Several
    /// `tracestate` fields are joined with `,` (RFC 9110 §5.3); several `traceparent` fields make
    /// the context invalid. An invalid tracestate is dropped, keeping the traceparent.
    /// - Returns: the context, or `nil` when there is no valid traceparent.
    public static func extract(from headers: some Sequence<(name: String, value: String)>) -> W3CTraceContext? {
        var parents: [String] = []
        var states: [String] = []
        for (name, value) in headers {
            switch name.lowercased() {
            case traceparentHeader: parents.append(value)
            case tracestateHeader: states.append(value)
            default: break
            }
        }
        guard parents.count == 1 else { return nil }
        let joined = states.isEmpty ? nil : states.joined(separator: ",")
        return try? parse(traceparent: parents[0], tracestate: joined).get().context
    }

    /// Reads the context from a header dictionary (keys matched case-insensitively).
    public static func extract(from headers: [String: String]) -> W3CTraceContext? {
        extract(from: headers.map { (name: $0.key, value: $0.value) })
    }

    // MARK: Environment

    /// Reads `TRACEPARENT` and `TRACESTATE` from `environment` (the convention of the
    /// OpenTelemetry "Environment Variables as Context Propagation Carriers" specification).
    /// - Returns: the context (nil when `TRACEPARENT` is unset, empty or invalid) and a warning
    ///   when something was set but invalid.
    public static func fromEnvironment(
        _ environment: [String: String]
    ) -> (context: W3CTraceContext?, warning: String?) {
        let parent = environment["TRACEPARENT"].flatMap { $0.isEmpty ? nil : $0 }
        let state = environment["TRACESTATE"].flatMap { $0.isEmpty ? nil : $0 }
        guard let parent else {
            return (nil, state == nil ? nil : "TRACESTATE is set without TRACEPARENT; ignored")
        }
        switch parse(traceparent: parent, tracestate: state) {
        case .failure(let error):
            return (nil, "TRACEPARENT is invalid (\(error.reason)); not continuing a trace from the environment")
        case .success(let (context, stateError)):
            return (context, stateError.map { "TRACESTATE is invalid (\($0.reason)); continuing the trace without it" })
        }
    }

    /// The context from this process's `TRACEPARENT` / `TRACESTATE`, read once on first use; an
    /// invalid value is logged once as a warning (label `swift-otlp.trace-context`).
    public static var processEnvironment: W3CTraceContext? { ProcessEnvironment.value.context }

    /// The warning produced when the process environment was read, if any.
    public static var processEnvironmentWarning: String? { ProcessEnvironment.value.warning }

    private enum ProcessEnvironment {
        static let value: (context: W3CTraceContext?, warning: String?) = {
            let result = W3CTraceContext.fromEnvironment(ProcessInfo.processInfo.environment)
            if let warning = result.warning {
                Logger(label: "swift-otlp.trace-context").warning("\(warning)")
            }
            return result
        }()
    }
}
