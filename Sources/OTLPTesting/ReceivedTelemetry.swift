// What an OTLPTestCollector received: whole requests and flattened views of their items.
import HTTPTransportCore
import OTLPProto
import OTLPSync

extension OTLPTestCollector {
    /// An OTLP signal.
    public enum Signal: String, Sendable, Hashable, CaseIterable {
        case traces, metrics, logs

        /// The OTLP/HTTP path (`/v1/traces` ...).
        public var httpPath: String { "/v1/\(rawValue)" }

        /// The gRPC method path of the signal's collector service, from its generated service
        /// descriptor.
        public var grpcPath: String {
            switch self {
            case .traces: CollectorTraceV1TraceService.export.path
            case .metrics: CollectorMetricsV1MetricsService.export.path
            case .logs: CollectorLogsV1LogsService.export.path
            }
        }

        /// The fully qualified name of the signal's collector service
        /// (`opentelemetry.proto.collector.trace.v1.TraceService` ...).
        public var grpcServiceName: String {
            switch self {
            case .traces: CollectorTraceV1TraceService.name
            case .metrics: CollectorMetricsV1MetricsService.name
            case .logs: CollectorLogsV1LogsService.name
            }
        }
    }

    /// How a request arrived.
    public enum Encoding: String, Sendable, Hashable {
        /// OTLP/gRPC.
        case grpc
        /// OTLP/HTTP with a binary protobuf body.
        case httpProtobuf
        /// OTLP/HTTP with an OTLP/JSON body.
        case httpJSON
    }

    /// A decoded export request.
    public enum Payload: Sendable, Hashable {
        /// An `ExportTraceServiceRequest`.
        case traces(CollectorTraceV1ExportTraceServiceRequest)
        case metrics(CollectorMetricsV1ExportMetricsServiceRequest)
        case logs(CollectorLogsV1ExportLogsServiceRequest)

        /// The signal of the request.
        public var signal: Signal {
            switch self {
            case .traces: .traces
            case .metrics: .metrics
            case .logs: .logs
            }
        }

        /// The request as OTLP/JSON (one line, no trailing newline).
        public func jsonBytes() -> [UInt8] {
            switch self {
            case .traces(let request): request.jsonBytes()
            case .metrics(let request): request.jsonBytes()
            case .logs(let request): request.jsonBytes()
            }
        }
    }

    /// One accepted export request.
    public struct ReceivedRequest: Sendable {
        /// The decoded request.
        public var payload: Payload
        /// gRPC, OTLP/HTTP protobuf or OTLP/HTTP JSON.
        public var encoding: Encoding
        /// Whether the body (gRPC: the message) was gzip-compressed.
        public var compressed: Bool
        /// The request headers (lower-case names), e.g. to check `authorization` or `user-agent`.
        public var headers: [HTTPField]
        /// The server connection it came on (same number: same connection).
        public var connectionID: Int
        /// HTTP/1.1 or HTTP/2.
        public var httpProtocol: HTTPServerProtocol

        /// The signal of the request.
        public var signal: Signal { payload.signal }

        /// The first header value named `name` (lower-case).
        public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
    }

    /// A span with the resource and scope it was sent under.
    public struct ReceivedSpan: Sendable, Hashable {
        /// The resource of the span's `ResourceSpans` (nil when the sender left it out).
        public var resource: ResourceV1Resource?
        /// The instrumentation scope of the span's `ScopeSpans` (nil when left out).
        public var scope: CommonV1InstrumentationScope?
        /// The span as decoded.
        public var span: TraceV1Span
    }

    /// A metric data point with its metric's identity, resource and scope.
    public struct ReceivedMetricPoint: Sendable, Hashable {
        /// The point, by metric type.
        public enum Point: Sendable, Hashable {
            case gauge(MetricsV1NumberDataPoint)
            case sum(MetricsV1NumberDataPoint)
            case histogram(MetricsV1HistogramDataPoint)
            case exponentialHistogram(MetricsV1ExponentialHistogramDataPoint)
            case summary(MetricsV1SummaryDataPoint)
        }

        /// The resource of the point's `ResourceMetrics` (nil when left out).
        public var resource: ResourceV1Resource?
        /// The instrumentation scope of the point's `ScopeMetrics` (nil when left out).
        public var scope: CommonV1InstrumentationScope?
        /// The name, description and unit of the point's metric.
        public var metricName: String
        public var metricDescription: String
        public var unit: String
        /// The data point, tagged with its metric's type.
        public var point: Point
    }

    /// A log record with the resource and scope it was sent under.
    public struct ReceivedLogRecord: Sendable, Hashable {
        /// The resource of the record's `ResourceLogs` (nil when left out).
        public var resource: ResourceV1Resource?
        /// The instrumentation scope of the record's `ScopeLogs` (nil when left out).
        public var scope: CommonV1InstrumentationScope?
        /// The log record as decoded.
        public var record: LogsV1LogRecord
    }

    /// What the collector has counted since it started (or since ``OTLPTestCollector/reset()``).
    public struct Counters: Sendable, Hashable, CustomStringConvertible {
        /// Export requests received (accepted or not), per signal in `requestsBySignal`.
        public var requests = 0
        /// Export requests per signal.
        public var requestsBySignal: [Signal: Int] = [:]
        /// Requests answered with an error: malformed body, wrong content type, unknown path,
        /// too large, or a scripted error fault.
        public var rejectedRequests = 0
        /// Connections or requests the transport refused before they reached the collector
        /// (garbage, bad preface, oversized, header flood, slow client); see `HTTPServerStatistics.rejected`.
        public var transportRejections = 0
        /// Items in accepted requests.
        public var spans = 0
        /// Metric data points in accepted requests.
        public var metricPoints = 0
        /// Log records in accepted requests.
        public var logRecords = 0
        /// Spans in accepted requests that the collector's ``ItemLedger`` had already seen (an
        /// export re-sent after its answer was lost): `spans` counts them too, so the distinct
        /// spans are `spans - duplicateSpans`.
        public var duplicateSpans = 0
        /// Metric data points seen before (identical point, metric name, resource and scope).
        public var duplicateMetricPoints = 0
        /// Log records seen before (identical record, resource and scope).
        public var duplicateLogRecords = 0

        public init() {}

        /// `rejectedRequests + transportRejections`.
        public var rejected: Int { rejectedRequests + transportRejections }

        /// Items of every signal received more than once.
        public var duplicates: Int { duplicateSpans + duplicateMetricPoints + duplicateLogRecords }

        /// `spans=N metric_points=N log_records=N requests=N rejected=N duplicates=N`.
        public var description: String {
            "spans=\(spans) metric_points=\(metricPoints) log_records=\(logRecords) requests=\(requests) rejected=\(rejected) duplicates=\(duplicates)"
        }
    }

    /// The identities of the items received, to count duplicates: a batch re-sent after its answer
    /// was lost (the collector killed after storing it, a connection cut before the response)
    /// arrives twice, and a count of items alone would hide it. Give one ledger to every collector
    /// of a test that restarts its collector on the same port, and the second collector counts
    /// what the first had received as duplicates.
    ///
    /// An item's identity is a 64-bit hash (of trace and span id for spans; of the whole record,
    /// resource and scope for log records and metric points), kept for the life of the ledger:
    /// about 40 bytes per distinct item.
    public final class ItemLedger: Sendable {
        private struct Seen {
            var spans = Set<Int>()
            var metricPoints = Set<Int>()
            var logRecords = Set<Int>()
        }
        private let seen = LockedValue(Seen())

        public init() {}

        /// Distinct spans, metric data points and log records seen so far.
        public var distinctCounts: (spans: Int, metricPoints: Int, logRecords: Int) {
            seen.withLock { ($0.spans.count, $0.metricPoints.count, $0.logRecords.count) }
        }

        /// Records `items`; returns how many of each had been seen before.
        func record(_ items: ReceivedItems) -> (spans: Int, metricPoints: Int, logRecords: Int) {
            let spanKeys = items.spans.map { received in
                var hasher = Hasher()
                hasher.combine(received.span.traceId)
                hasher.combine(received.span.spanId)
                return hasher.finalize()
            }
            let pointKeys = items.metricPoints.map { received in
                var hasher = Hasher()
                hasher.combine(received.resource)
                hasher.combine(received.scope)
                hasher.combine(received.metricName)
                hasher.combine(received.point)
                return hasher.finalize()
            }
            let logKeys = items.logRecords.map(\.hashValue)
            return seen.withLock { seen in
                (Self.insert(spanKeys, into: &seen.spans), Self.insert(pointKeys, into: &seen.metricPoints),
                 Self.insert(logKeys, into: &seen.logRecords))
            }
        }

        /// Inserts `keys` into `seen`; returns how many were there already.
        private static func insert(_ keys: [Int], into seen: inout Set<Int>) -> Int {
            keys.reduce(0) { repeated, key in seen.insert(key).inserted ? repeated : repeated + 1 }
        }
    }

    /// The items of one request, each with its resource and scope: what the collector keeps and
    /// what its ledger identifies.
    struct ReceivedItems {
        var spans: [ReceivedSpan] = []
        var metricPoints: [ReceivedMetricPoint] = []
        var logRecords: [ReceivedLogRecord] = []
    }
}

extension OTLPTestCollector.Payload {
    /// The request's items, flattened with their resource and scope.
    var receivedItems: OTLPTestCollector.ReceivedItems {
        var items = OTLPTestCollector.ReceivedItems()
        switch self {
        case .traces(let export):
            for resourceSpans in export.resourceSpans {
                for scopeSpans in resourceSpans.scopeSpans {
                    for span in scopeSpans.spans {
                        items.spans.append(.init(resource: resourceSpans.resource, scope: scopeSpans.scope, span: span))
                    }
                }
            }
        case .metrics(let export):
            for resourceMetrics in export.resourceMetrics {
                for scopeMetrics in resourceMetrics.scopeMetrics {
                    for metric in scopeMetrics.metrics {
                        for point in metric.flattenedPoints {
                            items.metricPoints.append(.init(
                                resource: resourceMetrics.resource, scope: scopeMetrics.scope, metricName: metric.name,
                                metricDescription: metric.description, unit: metric.unit, point: point))
                        }
                    }
                }
            }
        case .logs(let export):
            for resourceLogs in export.resourceLogs {
                for scopeLogs in resourceLogs.scopeLogs {
                    for record in scopeLogs.logRecords {
                        items.logRecords.append(.init(resource: resourceLogs.resource, scope: scopeLogs.scope, record: record))
                    }
                }
            }
        }
        return items
    }

    /// Number of spans, metric data points or log records in the request.
    var itemCount: Int {
        switch self {
        case .traces(let request):
            request.resourceSpans.reduce(0) { $0 + $1.scopeSpans.reduce(0) { $0 + $1.spans.count } }
        case .metrics(let request):
            request.resourceMetrics.reduce(0) { $0 + $1.scopeMetrics.reduce(0) { $0 + $1.metrics.reduce(0) { $0 + $1.pointCount } } }
        case .logs(let request):
            request.resourceLogs.reduce(0) { $0 + $1.scopeLogs.reduce(0) { $0 + $1.logRecords.count } }
        }
    }
}

extension MetricsV1Metric {
    /// How many data points the metric holds, of whatever type.
    public var pointCount: Int {
        switch data {
        case .gauge(let gauge): gauge.dataPoints.count
        case .sum(let sum): sum.dataPoints.count
        case .histogram(let histogram): histogram.dataPoints.count
        case .exponentialHistogram(let histogram): histogram.dataPoints.count
        case .summary(let summary): summary.dataPoints.count
        case nil: 0
        }
    }

    var flattenedPoints: [OTLPTestCollector.ReceivedMetricPoint.Point] {
        switch data {
        case .gauge(let gauge): gauge.dataPoints.map { .gauge($0) }
        case .sum(let sum): sum.dataPoints.map { .sum($0) }
        case .histogram(let histogram): histogram.dataPoints.map { .histogram($0) }
        case .exponentialHistogram(let histogram): histogram.dataPoints.map { .exponentialHistogram($0) }
        case .summary(let summary): summary.dataPoints.map { .summary($0) }
        case nil: []
        }
    }
}

extension Array where Element == CommonV1KeyValue {
    /// The value of attribute `key` as text (a string as itself; an integer, bool or double as
    /// Swift prints it); nil when the key is absent or holds bytes, an array or a key/value list.
    public func text(of key: String) -> String? {
        switch first(where: { $0.key == key })?.value?.value {
        case .stringValue(let value): value
        case .intValue(let value): String(value)
        case .boolValue(let value): String(value)
        case .doubleValue(let value): String(value)
        default: nil
        }
    }
}
