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
        case .traces, .logs:
            // resource_spans / resource_logs = 1 → scope_spans / scope_logs = 2 → spans / log_records = 2;
            // the two requests share the shape.
            return try count(&reader, field: 1) { reader throws(ProtoDecodingError) in
                try count(&reader, field: 2) { reader throws(ProtoDecodingError) in
                    try occurrences(&reader, field: 2)
                }
            }
        case .metrics:
            // resource_metrics = 1 → scope_metrics = 2 → metrics = 2 → the data oneof → data_points = 1.
            return try count(&reader, field: 1) { reader throws(ProtoDecodingError) in
                try count(&reader, field: 2) { reader throws(ProtoDecodingError) in
                    try count(&reader, field: 2) { reader throws(ProtoDecodingError) in try metricPoints(&reader) }
                }
            }
        }
    }

    /// Adds up `inner` over every occurrence of the length-delimited `field` in the current message.
    private static func count(_ reader: inout ProtoReader, field: UInt32,
                              _ inner: (inout ProtoReader) throws(ProtoDecodingError) -> Int) throws(ProtoDecodingError) -> Int {
        var total = 0
        let wanted = field << 3 | ProtoWireType.lengthDelimited
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

    /// Occurrences of the length-delimited `field` in the current message.
    private static func occurrences(_ reader: inout ProtoReader, field: UInt32) throws(ProtoDecodingError) -> Int {
        var total = 0
        let wanted = field << 3 | ProtoWireType.lengthDelimited
        while let tag = try reader.nextTag() {
            if tag == wanted { total += 1 }
            try reader.skip(tag: tag)
        }
        return total
    }

    /// Data points of one `Metric`. Its `data` oneof (gauge = 5, sum = 7, histogram = 9,
    /// exponential_histogram = 10, summary = 11) keeps the last member set, and occurrences of the
    /// same member merge (their data_points = 1 concatenate), as the decoder does.
    private static func metricPoints(_ reader: inout ProtoReader) throws(ProtoDecodingError) -> Int {
        var member: UInt32 = 0
        var points = 0
        while let tag = try reader.nextTag() {
            let field = tag >> 3
            if tag & 7 == ProtoWireType.lengthDelimited, [5, 7, 9, 10, 11].contains(field) {
                if field != member { member = field; points = 0 }
                let limit = try reader.pushLimit()
                points += try occurrences(&reader, field: 1)
                reader.popLimit(limit)
            } else {
                try reader.skip(tag: tag)
            }
        }
        return points
    }
}
