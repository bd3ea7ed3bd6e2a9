// Session events as OTLP values: log records (the log view) and span events (the trace view).

import OTLPExporter
import OTLPProto

extension SessionEventRecord {
    var otlpAttributes: [CommonV1KeyValue] {
        attributes.map { key, value in
            var kv = CommonV1KeyValue()
            kv.key = key
            kv.value = value.otlpValue
            return kv
        }
    }

    /// This event as an OTLP log record: severity INFO, `eventName` and body set to the event
    /// name, attributes in order, optionally correlated with a span (16- and 8-byte ids).
    public func otlpLogRecord(traceID: [UInt8] = [], spanID: [UInt8] = []) -> LogsV1LogRecord {
        var record = LogsV1LogRecord()
        record.timeUnixNano = timeUnixNano
        record.observedTimeUnixNano = timeUnixNano
        record.severityNumber = .info
        record.severityText = "INFO"
        record.eventName = name
        var body = CommonV1AnyValue()
        body.value = .stringValue(name)
        record.body = body
        record.attributes = otlpAttributes
        record.traceId = traceID
        record.spanId = spanID
        return record
    }

    /// This event as an OTLP span event.
    public func otlpSpanEvent() -> TraceV1Span.Event {
        var event = TraceV1Span.Event()
        event.timeUnixNano = timeUnixNano
        event.name = name
        event.attributes = otlpAttributes
        return event
    }

    /// An OTLP logs export request holding `records` under one resource and scope.
    public static func otlpLogsRequest(
        _ records: [SessionEventRecord], resource: [String: String], scopeName: String = "swift-otlp.session-telemetry"
    ) -> CollectorLogsV1ExportLogsServiceRequest {
        var otlpResource = ResourceV1Resource()
        otlpResource.attributes = MetricsClient.Snapshot.keyValues(resource)
        var scope = CommonV1InstrumentationScope()
        scope.name = scopeName
        var scopeLogs = LogsV1ScopeLogs()
        scopeLogs.scope = scope
        scopeLogs.logRecords = records.map { $0.otlpLogRecord() }
        var resourceLogs = LogsV1ResourceLogs()
        resourceLogs.resource = otlpResource
        resourceLogs.scopeLogs = [scopeLogs]
        var request = CollectorLogsV1ExportLogsServiceRequest()
        request.resourceLogs = [resourceLogs]
        return request
    }
}
