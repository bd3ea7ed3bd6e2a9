// Counting the items of a validated export request by skipping through it: what a collector that
// keeps counts only does instead of decoding every span into messages it would free at once.
import OTLPProto
import OTLPWire

enum ItemCounting {
    /// Validates `bytes` as an export request of `signal` (the decoder's checks and errors) and
    /// returns how many spans, metric data points or log records it holds, building no message.
    static func validateAndCount(_ signal: OTLPTestCollector.Signal, _ bytes: UnsafeRawBufferPointer,
                                 options: ProtoDecodingOptions) throws(ProtoDecodingError) -> Int {
        switch signal {
        case .traces: try CollectorTraceV1ExportTraceServiceRequest.validate(serializedBytes: bytes, options: options)
        case .metrics: try CollectorMetricsV1ExportMetricsServiceRequest.validate(serializedBytes: bytes, options: options)
        case .logs: try CollectorLogsV1ExportLogsServiceRequest.validate(serializedBytes: bytes, options: options)
        }
        var reader = ProtoReader(bytes, options: options)
        switch signal {
        case .traces:
            return try count(&reader, tag: CollectorTraceV1ExportTraceServiceRequest.Tag.resourceSpans) { reader throws(ProtoDecodingError) in
                try count(&reader, tag: TraceV1ResourceSpans.Tag.scopeSpans) { reader throws(ProtoDecodingError) in
                    try occurrences(&reader, tag: TraceV1ScopeSpans.Tag.spans)
                }
            }
        case .logs:
            return try count(&reader, tag: CollectorLogsV1ExportLogsServiceRequest.Tag.resourceLogs) { reader throws(ProtoDecodingError) in
                try count(&reader, tag: LogsV1ResourceLogs.Tag.scopeLogs) { reader throws(ProtoDecodingError) in
                    try occurrences(&reader, tag: LogsV1ScopeLogs.Tag.logRecords)
                }
            }
        case .metrics:
            return try count(&reader, tag: CollectorMetricsV1ExportMetricsServiceRequest.Tag.resourceMetrics) { reader throws(ProtoDecodingError) in
                try count(&reader, tag: MetricsV1ResourceMetrics.Tag.scopeMetrics) { reader throws(ProtoDecodingError) in
                    try count(&reader, tag: MetricsV1ScopeMetrics.Tag.metrics) { reader throws(ProtoDecodingError) in try metricPoints(&reader) }
                }
            }
        }
    }

    /// Adds up `inner` over every occurrence of the message field `wanted` (its tag) in the
    /// current message.
    private static func count(_ reader: inout ProtoReader, tag wanted: UInt32,
                              _ inner: (inout ProtoReader) throws(ProtoDecodingError) -> Int) throws(ProtoDecodingError) -> Int {
        var total = 0
        while let tag = try reader.nextTag() {
            if tag == wanted {
                let limit = try reader.pushLimit()
                total += try inner(&reader)
                reader.popLimit(limit)
            } else {
                try reader.skip(tag: tag)
            }
        }
        return total
    }

    /// Occurrences of the field `wanted` (its tag) in the current message.
    private static func occurrences(_ reader: inout ProtoReader, tag wanted: UInt32) throws(ProtoDecodingError) -> Int {
        var total = 0
        while let tag = try reader.nextTag() {
            if tag == wanted { total += 1 }
            try reader.skip(tag: tag)
        }
        return total
    }

    /// Data points of one `Metric`. Its `data` oneof (gauge, sum, histogram,
    /// exponential_histogram, summary) keeps the last member set, and occurrences of the same
    /// member merge (their data_points concatenate), as the decoder does. Every member keeps its
    /// points in a `data_points` field of the same number.
    private static func metricPoints(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> Int {
        var member: UInt32 = 0
        var points = 0
        while let tag = try reader.nextTag() {
            switch tag {
            case MetricsV1Metric.Tag.gauge, MetricsV1Metric.Tag.sum, MetricsV1Metric.Tag.histogram,
                 MetricsV1Metric.Tag.exponentialHistogram, MetricsV1Metric.Tag.summary:
                if tag != member { member = tag; points = 0 }
                let limit = try reader.pushLimit()
                points += try occurrences(&reader, tag: MetricsV1Gauge.Tag.dataPoints)
                reader.popLimit(limit)
            default:
                try reader.skip(tag: tag)
            }
        }
        return points
    }
}
