// What the embedded collector received, in the terms the exporter tests assert on.
import OTLPProto
import OTLPSync
import OTLPTesting

extension OTLPTestCollector {
    /// The names of every span received, in arrival order.
    var spanNames: [String] { spans.map(\.span.name) }

    /// `metric:value` of every integer or double data point received, in arrival order.
    var metricKeys: [String] {
        metricPoints.compactMap { received -> String? in
            let point: MetricsV1NumberDataPoint
            switch received.point {
            case .sum(let number), .gauge(let number): point = number
            default: return nil
            }
            switch point.value {
            case .asInt(let value): return "\(received.metricName):\(value)"
            case .asDouble(let value): return "\(received.metricName):\(value)"
            case nil: return nil
            }
        }
    }

    /// The string bodies of every log record received, in arrival order.
    var logBodies: [String] {
        logRecords.compactMap { record in
            if case .stringValue(let body) = record.record.body?.value { return body }
            return nil
        }
    }

    /// Starts a cleartext collector with only the receiver asked for, on `port` (0: a free one).
    static func started(grpc: Bool, port: UInt16 = 0, onRequest: (@Sendable (ReceivedRequest) -> Void)? = nil) throws -> OTLPTestCollector {
        let configuration = Configuration(grpcPort: grpc ? port : 0, httpPort: grpc ? 0 : port, onRequest: onRequest)
        return try OTLPTestCollector(grpc: grpc, http: !grpc, configuration: configuration)
    }

    /// The receiver's base URL: the gRPC endpoint, or the OTLP/HTTP endpoint without a path.
    var endpoint: String { grpcEndpoint ?? httpEndpoint! }
}

/// Arrival times of requests at the collector (its `onRequest` hook), to tell how many were
/// being answered at once when every answer is delayed by the same scripted `.delay`.
final class Arrivals: Sendable {
    private let times = LockedValue<[ContinuousClock.Instant]>([])
    var hook: @Sendable (OTLPTestCollector.ReceivedRequest) -> Void { { [self] _ in times.withLock { $0.append(.now) } } }
    var count: Int { times.withLock { $0.count } }

    /// The most requests that arrived within one `window` of each other: with every answer delayed
    /// by `window`, the most answers outstanding at the collector at once.
    func mostWithin(_ window: Duration) -> Int {
        let sorted = times.withLock { $0 }.sorted()
        var most = 0
        for (index, start) in sorted.enumerated() {
            most = max(most, sorted[index...].prefix { $0 - start < window }.count)
        }
        return most
    }
}
