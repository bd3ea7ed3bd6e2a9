// An ExportLogsServiceRequest encoded straight from the pipeline's LogRecordData, like
// SpanRequestEncoding.swift does for spans: exactly `LogBatch.makeRequest().serializedBytes()`
// (a test compares the two on randomized batches), without the intermediate messages.
import OTLPProto
import OTLPWire
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
    /// `record` points into the batch's storage, so that no field access copies the whole record.
    static func size(_ record: UnsafePointer<LogRecordData>, _ sizer: inout ProtoSizer) -> Int {
        var size = 0
        if record.pointee.timeUnixNano != 0 { size &+= 9 }  // time_unix_nano = 1
        if let severity = record.pointee.severity, severity.rawValue != 0 {  // severity_number = 2
            size &+= 1 &+ ProtoSize.int32(severity.rawValue)
        }
        if let text = record.pointee.severityText, !text.isEmpty { size &+= 1 &+ ProtoSize.string(text) }  // = 3
        if let body = record.pointee.body {  // body = 5
            let slot = sizer.reserveSlot()
            let bodySize = AttributeEncoding.sizeOfValue(body, &sizer)
            sizer.set(slot, bodySize)
            size &+= 1 &+ ProtoSize.varint(bodySize) &+ bodySize
        }
        size &+= AttributeEncoding.sizeOfList(record.pointee.attributes, tagSize: 1, &sizer)  // attributes = 6
        if record.pointee.droppedAttributesCount != 0 { size &+= 1 &+ ProtoSize.uint32(record.pointee.droppedAttributesCount) }
        if record.pointee.traceFlags.rawValue != 0 { size &+= 5 }  // flags = 8
        if let traceID = record.pointee.traceID, traceID.isValid { size &+= 18 }  // trace_id = 9
        if let spanID = record.pointee.spanID, spanID.isValid { size &+= 10 }  // span_id = 10
        if record.pointee.observedTimeUnixNano != 0 { size &+= 9 }  // observed_time_unix_nano = 11
        if let name = record.pointee.eventName, !name.isEmpty { size &+= 1 &+ ProtoSize.string(name) }  // = 12
        return size
    }

    static func write(_ record: UnsafePointer<LogRecordData>, _ writer: inout ProtoWriter) {
        if record.pointee.timeUnixNano != 0 {
            writer.writeTag(0x09)  // time_unix_nano = 1
            writer.writeFixed64(record.pointee.timeUnixNano)
        }
        if let severity = record.pointee.severity, severity.rawValue != 0 {
            writer.writeTag(0x10)  // severity_number = 2
            writer.writeInt32(severity.rawValue)
        }
        if let text = record.pointee.severityText, !text.isEmpty {
            writer.writeTag(0x1A)  // severity_text = 3
            writer.writeString(text)
        }
        if let body = record.pointee.body {
            writer.writeTag(0x2A)  // body = 5
            writer.writeRecordedLength()
            AttributeEncoding.writeValue(body, &writer)
        }
        AttributeEncoding.writeList(record.pointee.attributes, tag: 0x32, &writer)  // attributes = 6
        if record.pointee.droppedAttributesCount != 0 {
            writer.writeTag(0x38)  // dropped_attributes_count = 7
            writer.writeUInt32(record.pointee.droppedAttributesCount)
        }
        if record.pointee.traceFlags.rawValue != 0 {
            writer.writeTag(0x45)  // flags = 8
            writer.writeFixed32(UInt32(record.pointee.traceFlags.rawValue))
        }
        if let traceID = record.pointee.traceID, traceID.isValid {
            writer.writeTag(0x4A)  // trace_id = 9
            writer.writeLength(16)
            writer.writeFixed64(traceID.high.byteSwapped)  // big-endian bytes
            writer.writeFixed64(traceID.low.byteSwapped)
        }
        if let spanID = record.pointee.spanID, spanID.isValid {
            writer.writeTag(0x52)  // span_id = 10
            writer.writeLength(8)
            writer.writeFixed64(spanID.value.byteSwapped)
        }
        if record.pointee.observedTimeUnixNano != 0 {
            writer.writeTag(0x59)  // observed_time_unix_nano = 11
            writer.writeFixed64(record.pointee.observedTimeUnixNano)
        }
        if let name = record.pointee.eventName, !name.isEmpty {
            writer.writeTag(0x62)  // event_name = 12
            writer.writeString(name)
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
