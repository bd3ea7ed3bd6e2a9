// An ExportLogsServiceRequest encoded straight from the pipeline's LogRecordData, like
// SpanRequestEncoding.swift does for spans: exactly `LogBatch.makeRequest().serializedBytes()`
// (a test compares the two on randomized batches), without the intermediate messages.
import OTLPProto
import OTLPWire
public import TelemetryCore
import TelemetryPipeline

extension ScopedRequestEncoding where Record == LogRecordData {
    /// `ExportLogsServiceRequest` for `records`.
    init(resource: Resource, logRecords records: ArraySlice<LogRecordData>) {
        self.init(resource: resource, records: .array(records), recordSize: { record, _, sizer in LogRecordEncoding.size(record, &sizer) },
                  writeRecord: { record, _, writer in LogRecordEncoding.write(record, &writer) })
    }
}

/// `opentelemetry.proto.logs.v1.LogRecord` from ``LogRecordData``, as ``LogRecordData/otlpLogRecord`` converts it.
enum LogRecordEncoding {
    /// `record` lends the record where the batch stores it: no field access copies the whole record.
    static func size(_ record: LogRecordView, _ sizer: inout ProtoSizer) -> Int {
        record.withRecord { record in
            var size = 0
            if record.timeUnixNano != 0 { size &+= 9 }  // time_unix_nano = 1
            if let severity = record.severity, severity.rawValue != 0 {  // severity_number = 2
                size &+= 1 &+ ProtoSize.int32(severity.rawValue)
            }
            if let text = record.severityText, !text.isEmpty { size &+= 1 &+ ProtoSize.string(text) }  // = 3
            if let body = record.body {  // body = 5
                let slot = sizer.reserveSlot()
                let bodySize = AttributeEncoding.sizeOfValue(body, &sizer)
                sizer.set(slot, bodySize)
                size &+= 1 &+ ProtoSize.varint(bodySize) &+ bodySize
            }
            size &+= AttributeEncoding.sizeOfList(record.attributes, tagSize: 1, &sizer)  // attributes = 6
            if record.droppedAttributesCount != 0 { size &+= 1 &+ ProtoSize.uint32(record.droppedAttributesCount) }
            if record.traceFlags.rawValue != 0 { size &+= 5 }  // flags = 8
            if let traceID = record.traceID, traceID.isValid { size &+= 18 }  // trace_id = 9
            if let spanID = record.spanID, spanID.isValid { size &+= 10 }  // span_id = 10
            if record.observedTimeUnixNano != 0 { size &+= 9 }  // observed_time_unix_nano = 11
            if let name = record.eventName, !name.isEmpty { size &+= 1 &+ ProtoSize.string(name) }  // = 12
            return size
        }
    }

    static func write(_ record: LogRecordView, _ writer: inout ProtoWriter) {
        record.withRecord { record in
            if record.timeUnixNano != 0 {
                writer.writeTag(LogsV1LogRecord.Tag.timeUnixNano)
                writer.writeFixed64(record.timeUnixNano)
            }
            if let severity = record.severity, severity.rawValue != 0 {
                writer.writeTag(LogsV1LogRecord.Tag.severityNumber)
                writer.writeInt32(severity.rawValue)
            }
            if let text = record.severityText, !text.isEmpty {
                writer.writeTag(LogsV1LogRecord.Tag.severityText)
                writer.writeString(text)
            }
            if let body = record.body {
                writer.writeTag(LogsV1LogRecord.Tag.body)
                writer.writeRecordedLength()
                AttributeEncoding.writeValue(body, &writer)
            }
            AttributeEncoding.writeList(record.attributes, tag: LogsV1LogRecord.Tag.attributes, &writer)
            if record.droppedAttributesCount != 0 {
                writer.writeTag(LogsV1LogRecord.Tag.droppedAttributesCount)
                writer.writeUInt32(record.droppedAttributesCount)
            }
            if record.traceFlags.rawValue != 0 {
                writer.writeTag(LogsV1LogRecord.Tag.flags)
                writer.writeFixed32(UInt32(record.traceFlags.rawValue))
            }
            if let traceID = record.traceID, traceID.isValid {
                writer.writeTag(LogsV1LogRecord.Tag.traceId)
                writer.writeLength(16)
                writer.writeFixed64(traceID.high.byteSwapped)  // big-endian bytes
                writer.writeFixed64(traceID.low.byteSwapped)
            }
            if let spanID = record.spanID, spanID.isValid {
                writer.writeTag(LogsV1LogRecord.Tag.spanId)
                writer.writeLength(8)
                writer.writeFixed64(spanID.value.byteSwapped)
            }
            if record.observedTimeUnixNano != 0 {
                writer.writeTag(LogsV1LogRecord.Tag.observedTimeUnixNano)
                writer.writeFixed64(record.observedTimeUnixNano)
            }
            if let name = record.eventName, !name.isEmpty {
                writer.writeTag(LogsV1LogRecord.Tag.eventName)
                writer.writeString(name)
            }
        }
    }
}

extension LogBatch {
    /// The batch (or the records in `range`) as binary `ExportLogsServiceRequest` bytes, encoded
    /// straight from the records: exactly `makeRequest().serializedBytes()`, without building the
    /// intermediate messages.
    /// `headroom` zero bytes precede the request (see ``ProtoEncodable/encodedBytes(expectedLengths:headroom:)``).
    public func encodedExportRequest(range: Range<Int>? = nil, headroom: Int = 0) -> [UInt8] {
        let records = self.records[range ?? self.records.indices]
        return ScopedRequestEncoding(resource: resource, logRecords: records)
            .encodedBytes(expectedLengths: 16 &* records.count &+ 64, headroom: headroom)
    }
}
