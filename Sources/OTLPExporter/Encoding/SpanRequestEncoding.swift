// An ExportTraceServiceRequest encoded straight from the pipeline's SpanData, without building
// the generated OTLP messages first: no per-span allocations (ids, key/value arrays, AnyValues),
// no copies. The bytes are exactly those of `SpanBatch.makeRequest().serializedBytes()` (field
// order and omission rules of the generated code, which matches the reference protobuf); a test
// compares the two on randomized batches.
import OTLPProto
import OTLPWire
import TelemetryPipeline

/// A pipeline record that belongs to an instrumentation scope (spans, log records).
protocol ScopedRecord {
    var scope: InstrumentationScope { get }
}

extension SpanData: ScopedRecord {}
extension LogRecordData: ScopedRecord {}

/// Where the records of an encoding live, read in place: an array slice, or (spans only) the
/// blocks of a ``SpanRecordList`` with their inline attributes.
enum RecordSource<Record: ScopedRecord> {
    case array(ArraySlice<Record>)
    case spanRecords(SpanRecordList, Range<Int>)

    var count: Int {
        switch self {
        case .array(let records): records.count
        case .spanRecords(_, let range): range.count
        }
    }

    /// Asks the cache for the record at `position` (a span block, last written on a producer's
    /// core), a few records before it is read; nothing for an array's records.
    @inline(__always)
    func prefetch(_ position: Int) {
        if case .spanRecords(let list, let range) = self { list.prefetch(at: range.lowerBound &+ position) }
    }

    /// Calls `body` with a function from a position (0 ..< count) to the record there and the
    /// attributes stored before its own (inline in a span block; none otherwise). The pointers
    /// are valid inside `body` only.
    func withRecords<Result>(
        _ body: ((Int) -> (record: UnsafePointer<Record>, leading: UnsafeBufferPointer<Attribute>)) -> Result
    ) -> Result {
        switch self {
        case .array(let records):
            return records.withUnsafeBufferPointer { buffer in
                body { (buffer.baseAddress! + $0, UnsafeBufferPointer(start: nil, count: 0)) }
            }
        case .spanRecords(let list, let range):
            defer { list.finishedReading() }
            return withExtendedLifetime(list) {
                body { position in
                    let index = range.lowerBound + position
                    // Only made for Record == SpanData (``ScopedRequestEncoding/init(resource:spanRecords:range:)``).
                    return (UnsafeRawPointer(list.span(at: index)).assumingMemoryBound(to: Record.self),
                            list.inlineAttributes(at: index))
                }
            }
        }
    }
}

/// Groups the records by instrumentation scope in order of first appearance (as `makeRequest()`
/// does): each scope's OTLP message and the positions of its records. Records are read in place.
func scopeGroups<Record: ScopedRecord>(
    _ records: RecordSource<Record>
) -> [(scope: CommonV1InstrumentationScope, positions: [Int])] {
    var groups: [(scope: CommonV1InstrumentationScope, positions: [Int])] = []
    var scopes: [InstrumentationScope] = []
    var last = -1
    let count = records.count
    records.withRecords { recordAt in
        for position in 0..<count {
            let record = recordAt(position).record
            let index: Int
            // Identity first (records of one tracer share the storage), then field by field.
            if last >= 0, scopes[last] == record.pointee.scope {
                index = last
            } else if let found = scopes.firstIndex(where: { $0 == record.pointee.scope }) {
                index = found
            } else {
                index = scopes.count
                let recordScope = record.pointee.scope
                scopes.append(recordScope)
                groups.append((recordScope.otlpScope, []))
                if index == 0 { groups[0].positions.reserveCapacity(count) }
            }
            groups[index].positions.append(position)
            last = index
        }
    }
    return groups
}

/// An `Export{Trace,Logs}ServiceRequest` for `records` under one resource. Both requests have the
/// same shape: `resource_* = 1` (one) { `resource = 1`, `scope_* = 2` (one per scope, in order of
/// first appearance, like `makeRequest()`) { `scope = 1`, records `= 2` } }; `recordSize` and
/// `writeRecord` encode one record's content (given the attributes stored before its own).
struct ScopedRequestEncoding<Record: ScopedRecord>: ProtoEncodable {
    typealias RecordSize = (UnsafePointer<Record>, UnsafeBufferPointer<Attribute>, inout ProtoSizer) -> Int
    typealias RecordWrite = (UnsafePointer<Record>, UnsafeBufferPointer<Attribute>, inout ProtoWriter) -> Void

    let resource: ResourceV1Resource
    let records: RecordSource<Record>
    let groups: [(scope: CommonV1InstrumentationScope, positions: [Int])]
    let recordSize: RecordSize
    let writeRecord: RecordWrite

    init(resource: Resource, records: RecordSource<Record>, recordSize: @escaping RecordSize, writeRecord: @escaping RecordWrite) {
        self.resource = resource.otlpResource
        self.records = records
        groups = scopeGroups(records)
        self.recordSize = recordSize
        self.writeRecord = writeRecord
    }

    func protoSize(_ sizer: inout ProtoSizer) -> Int {
        guard records.count > 0 else { return 0 }
        let slot = sizer.reserveSlot()
        var size = 1 &+ sizer.message(resource)  // resource = 1
        records.withRecords { recordAt in
            for group in groups {
                let groupSlot = sizer.reserveSlot()
                var groupSize = 1 &+ sizer.message(group.scope)  // scope = 1
                let positions = group.positions
                for (index, position) in positions.enumerated() {
                    // The sizing pass reads each record first: fetch a few ahead.
                    if index &+ 4 < positions.count { records.prefetch(positions[index &+ 4]) }
                    let recordSlot = sizer.reserveSlot()
                    let (record, leading) = recordAt(position)
                    let size = recordSize(record, leading, &sizer)
                    sizer.set(recordSlot, size)
                    groupSize &+= 1 &+ ProtoSize.varint(size) &+ size  // records = 2
                }
                sizer.set(groupSlot, groupSize)
                size &+= 1 &+ ProtoSize.varint(groupSize) &+ groupSize  // scope_* = 2
            }
        }
        sizer.set(slot, size)
        return 1 &+ ProtoSize.varint(size) &+ size  // resource_* = 1
    }

    func protoWrite(_ writer: inout ProtoWriter) {
        guard records.count > 0 else { return }
        writer.writeTag(0x0A)  // resource_* = 1
        writer.writeRecordedLength()
        writer.writeTag(0x0A)  // resource = 1
        writer.writeMessage(resource)
        records.withRecords { recordAt in
            for group in groups {
                writer.writeTag(0x12)  // scope_* = 2
                writer.writeRecordedLength()
                writer.writeTag(0x0A)  // scope = 1
                writer.writeMessage(group.scope)
                for position in group.positions {
                    writer.writeTag(0x12)  // records = 2
                    writer.writeRecordedLength()
                    let (record, leading) = recordAt(position)
                    writeRecord(record, leading, &writer)
                }
            }
        }
    }
}

extension ScopedRequestEncoding where Record == SpanData {
    /// `ExportTraceServiceRequest` for `spans`.
    init(resource: Resource, spans: ArraySlice<SpanData>) {
        self.init(resource: resource, records: .array(spans), recordSize: SpanEncoding.size, writeRecord: SpanEncoding.write)
    }

    /// `ExportTraceServiceRequest` for the span records in `range` of `list`, read in their blocks.
    init(resource: Resource, spanRecords list: SpanRecordList, range: Range<Int>) {
        self.init(resource: resource, records: .spanRecords(list, range), recordSize: SpanEncoding.size, writeRecord: SpanEncoding.write)
    }
}

/// `opentelemetry.proto.trace.v1.Span` and its parts, from ``SpanData`` as ``SpanData/otlpSpan`` converts it.
enum SpanEncoding {
    /// `span` points into the batch's storage, so that no field access copies the whole span;
    /// `leading` are attributes stored before the span's own (inline in its block).
    static func size(_ span: UnsafePointer<SpanData>, leading: UnsafeBufferPointer<Attribute>, _ sizer: inout ProtoSizer) -> Int {
        var size = 18 &+ 10  // trace_id = 1 (tag, length, 16 bytes); span_id = 2 (tag, length, 8 bytes)
        if !span.pointee.context.traceState.isEmpty { size &+= 1 &+ ProtoSize.string(span.pointee.context.traceState) }
        if span.pointee.parentSpanID != nil { size &+= 10 }  // parent_span_id = 4
        if !span.pointee.name.isEmpty { size &+= 1 &+ ProtoSize.string(span.pointee.name) }
        size &+= 2  // kind = 6 (never unspecified)
        if span.pointee.startTimeUnixNano != 0 { size &+= 9 }
        if span.pointee.endTimeUnixNano != 0 { size &+= 9 }
        size &+= AttributeEncoding.sizeOfList(leading, tagSize: 1, &sizer)  // attributes = 9
        size &+= AttributeEncoding.sizeOfList(span.pointee.attributes, tagSize: 1, &sizer)
        if span.pointee.droppedAttributesCount != 0 { size &+= 1 &+ ProtoSize.uint32(span.pointee.droppedAttributesCount) }
        for event in span.pointee.events {  // events = 11
            let slot = sizer.reserveSlot()
            var eventSize = 0
            if event.timeUnixNano != 0 { eventSize &+= 9 }
            if !event.name.isEmpty { eventSize &+= 1 &+ ProtoSize.string(event.name) }
            eventSize &+= AttributeEncoding.sizeOfList(event.attributes, tagSize: 1, &sizer)
            if event.droppedAttributesCount != 0 { eventSize &+= 1 &+ ProtoSize.uint32(event.droppedAttributesCount) }
            sizer.set(slot, eventSize)
            size &+= 1 &+ ProtoSize.varint(eventSize) &+ eventSize
        }
        if span.pointee.droppedEventsCount != 0 { size &+= 1 &+ ProtoSize.uint32(span.pointee.droppedEventsCount) }
        for link in span.pointee.links {  // links = 13
            let slot = sizer.reserveSlot()
            var linkSize = 18 &+ 10 &+ 5  // trace_id, span_id, flags (never 0: has-is-remote bit)
            if !link.context.traceState.isEmpty { linkSize &+= 1 &+ ProtoSize.string(link.context.traceState) }
            linkSize &+= AttributeEncoding.sizeOfList(link.attributes, tagSize: 1, &sizer)
            if link.droppedAttributesCount != 0 { linkSize &+= 1 &+ ProtoSize.uint32(link.droppedAttributesCount) }
            sizer.set(slot, linkSize)
            size &+= 1 &+ ProtoSize.varint(linkSize) &+ linkSize
        }
        if span.pointee.droppedLinksCount != 0 { size &+= 1 &+ ProtoSize.uint32(span.pointee.droppedLinksCount) }
        switch span.pointee.status {  // status = 15
        case .unset: break
        case .ok:
            let slot = sizer.reserveSlot()
            sizer.set(slot, 2)
            size &+= 1 &+ 1 &+ 2  // code = 3 (OK)
        case .error(let description):
            let slot = sizer.reserveSlot()
            var statusSize = 2  // code = 3 (ERROR)
            if !description.isEmpty { statusSize &+= 1 &+ ProtoSize.string(description) }
            sizer.set(slot, statusSize)
            size &+= 1 &+ ProtoSize.varint(statusSize) &+ statusSize
        }
        if span.pointee.context.traceFlags.rawValue != 0 { size &+= 2 &+ 4 }  // flags = 16 (two-byte tag)
        return size
    }

    static func write(_ span: UnsafePointer<SpanData>, leading: UnsafeBufferPointer<Attribute>, _ writer: inout ProtoWriter) {
        writer.writeTag(0x0A)  // trace_id = 1
        writer.writeLength(16)
        writer.writeFixed64(span.pointee.context.traceID.high.byteSwapped)  // big-endian bytes
        writer.writeFixed64(span.pointee.context.traceID.low.byteSwapped)
        writer.writeTag(0x12)  // span_id = 2
        writer.writeLength(8)
        writer.writeFixed64(span.pointee.context.spanID.value.byteSwapped)
        if !span.pointee.context.traceState.isEmpty {
            writer.writeTag(0x1A)  // trace_state = 3
            writer.writeString(span.pointee.context.traceState)
        }
        if let parent = span.pointee.parentSpanID {
            writer.writeTag(0x22)  // parent_span_id = 4
            writer.writeLength(8)
            writer.writeFixed64(parent.value.byteSwapped)
        }
        if !span.pointee.name.isEmpty {
            writer.writeTag(0x2A)  // name = 5
            writer.writeString(span.pointee.name)
        }
        writer.writeTag(0x30)  // kind = 6
        writer.writeByte(kindNumber(span.pointee.kind))
        if span.pointee.startTimeUnixNano != 0 {
            writer.writeTag(0x39)  // start_time_unix_nano = 7
            writer.writeFixed64(span.pointee.startTimeUnixNano)
        }
        if span.pointee.endTimeUnixNano != 0 {
            writer.writeTag(0x41)  // end_time_unix_nano = 8
            writer.writeFixed64(span.pointee.endTimeUnixNano)
        }
        AttributeEncoding.writeList(leading, tag: 0x4A, &writer)  // attributes = 9
        AttributeEncoding.writeList(span.pointee.attributes, tag: 0x4A, &writer)
        if span.pointee.droppedAttributesCount != 0 {
            writer.writeTag(0x50)  // dropped_attributes_count = 10
            writer.writeUInt32(span.pointee.droppedAttributesCount)
        }
        for event in span.pointee.events {
            writer.writeTag(0x5A)  // events = 11
            writer.writeRecordedLength()
            if event.timeUnixNano != 0 {
                writer.writeTag(0x09)  // time_unix_nano = 1
                writer.writeFixed64(event.timeUnixNano)
            }
            if !event.name.isEmpty {
                writer.writeTag(0x12)  // name = 2
                writer.writeString(event.name)
            }
            AttributeEncoding.writeList(event.attributes, tag: 0x1A, &writer)  // attributes = 3
            if event.droppedAttributesCount != 0 {
                writer.writeTag(0x20)  // dropped_attributes_count = 4
                writer.writeUInt32(event.droppedAttributesCount)
            }
        }
        if span.pointee.droppedEventsCount != 0 {
            writer.writeTag(0x60)  // dropped_events_count = 12
            writer.writeUInt32(span.pointee.droppedEventsCount)
        }
        for link in span.pointee.links {
            writer.writeTag(0x6A)  // links = 13
            writer.writeRecordedLength()
            writer.writeTag(0x0A)  // trace_id = 1
            writer.writeLength(16)
            writer.writeFixed64(link.context.traceID.high.byteSwapped)
            writer.writeFixed64(link.context.traceID.low.byteSwapped)
            writer.writeTag(0x12)  // span_id = 2
            writer.writeLength(8)
            writer.writeFixed64(link.context.spanID.value.byteSwapped)
            if !link.context.traceState.isEmpty {
                writer.writeTag(0x1A)  // trace_state = 3
                writer.writeString(link.context.traceState)
            }
            AttributeEncoding.writeList(link.attributes, tag: 0x22, &writer)  // attributes = 4
            if link.droppedAttributesCount != 0 {
                writer.writeTag(0x28)  // dropped_attributes_count = 5
                writer.writeUInt32(link.droppedAttributesCount)
            }
            writer.writeTag(0x35)  // flags = 6: trace flags | HAS_IS_REMOTE (0x100) | IS_REMOTE (0x200)
            writer.writeFixed32(UInt32(link.context.traceFlags.rawValue) | 0x100 | (link.context.isRemote ? 0x200 : 0))
        }
        if span.pointee.droppedLinksCount != 0 {
            writer.writeTag(0x70)  // dropped_links_count = 14
            writer.writeUInt32(span.pointee.droppedLinksCount)
        }
        switch span.pointee.status {
        case .unset: break
        case .ok:
            writer.writeTag(0x7A)  // status = 15
            writer.writeRecordedLength()
            writer.writeTag(0x18)  // code = 3
            writer.writeByte(1)  // STATUS_CODE_OK
        case .error(let description):
            writer.writeTag(0x7A)  // status = 15
            writer.writeRecordedLength()
            if !description.isEmpty {
                writer.writeTag(0x12)  // message = 2
                writer.writeString(description)
            }
            writer.writeTag(0x18)  // code = 3
            writer.writeByte(2)  // STATUS_CODE_ERROR
        }
        if span.pointee.context.traceFlags.rawValue != 0 {
            writer.writeTag(0x85)  // flags = 16 (fixed32): tag 133 as a two-byte varint
            writer.writeFixed32(UInt32(span.pointee.context.traceFlags.rawValue))
        }
    }

    static func kindNumber(_ kind: SpanKind) -> UInt8 {
        switch kind {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }
}

/// `KeyValue` lists and `AnyValue`s from ``Attribute``s, as ``AttributeValue/otlpValue`` converts them.
enum AttributeEncoding {
    /// Size of a repeated `KeyValue` field (tags of `tagSize` bytes) with every length recorded.
    static func sizeOfList(_ attributes: [Attribute], tagSize: Int, _ sizer: inout ProtoSizer) -> Int {
        attributes.withUnsafeBufferPointer { sizeOfList($0, tagSize: tagSize, &sizer) }  // borrowed in place, no copies
    }

    static func sizeOfList(_ attributes: UnsafeBufferPointer<Attribute>, tagSize: Int, _ sizer: inout ProtoSizer) -> Int {
        var size = 0
        do {
            guard let first = attributes.baseAddress else { return 0 }
            for attribute in first..<first + attributes.count {
                let slot = sizer.reserveSlot()
                let keyLength = attribute.pointee.key.utf8.count
                var keyValueSize = keyLength == 0 ? 0 : 1 &+ ProtoSize.varint(keyLength) &+ keyLength  // key = 1
                let valueSlot = sizer.reserveSlot()
                let valueSize: Int
                switch attribute.pointee.value {  // scalars and strings in place; the rest below
                case .string(let text): valueSize = 1 &+ ProtoSize.string(text)
                case .bool: valueSize = 2
                case .int(let number): valueSize = 1 &+ ProtoSize.int64(number)
                case .double: valueSize = 9
                default: valueSize = sizeOfValue(attribute.pointee.value, &sizer)
                }
                sizer.set(valueSlot, valueSize)
                keyValueSize &+= 1 &+ ProtoSize.varint(valueSize) &+ valueSize  // value = 2 (always set)
                sizer.set(slot, keyValueSize)
                size &+= tagSize &+ ProtoSize.varint(keyValueSize) &+ keyValueSize
            }
        }
        return size
    }

    static func writeList(_ attributes: [Attribute], tag: UInt32, _ writer: inout ProtoWriter) {
        attributes.withUnsafeBufferPointer { writeList($0, tag: tag, &writer) }  // borrowed in place, no copies
    }

    static func writeList(_ attributes: UnsafeBufferPointer<Attribute>, tag: UInt32, _ writer: inout ProtoWriter) {
        do {
            guard let first = attributes.baseAddress else { return }
            for attribute in first..<first + attributes.count {
                writer.writeTag(tag)
                writer.writeRecordedLength()
                if !attribute.pointee.key.isEmpty {
                    writer.writeTag(0x0A)  // key = 1
                    writer.writeString(attribute.pointee.key)
                }
                writer.writeTag(0x12)  // value = 2
                writer.writeRecordedLength()
                switch attribute.pointee.value {  // scalars and strings in place; the rest below
                case .string(let text): writer.writeTag(0x0A); writer.writeString(text)
                case .bool(let flag): writer.writeTag(0x10); writer.writeBool(flag)
                case .int(let number): writer.writeTag(0x18); writer.writeInt64(number)
                case .double(let number): writer.writeTag(0x21); writer.writeDouble(number)
                default: writeValue(attribute.pointee.value, &writer)
                }
            }
        }
    }

    /// Size of an `AnyValue`'s content (its oneof member, always written once set).
    static func sizeOfValue(_ value: borrowing AttributeValue, _ sizer: inout ProtoSizer) -> Int {
        switch value {
        case .string(let text): return 1 &+ ProtoSize.string(text)
        case .bool: return 2
        case .int(let number): return 1 &+ ProtoSize.int64(number)
        case .double: return 9
        case .bytes(let bytes): return 1 &+ ProtoSize.bytes(bytes)
        case .stringArray(let texts):
            return sizeOfArray(texts.count, &sizer) { 1 &+ ProtoSize.string(texts[$0]) }
        case .boolArray(let flags):
            return sizeOfArray(flags.count, &sizer) { _ in 2 }
        case .intArray(let numbers):
            return sizeOfArray(numbers.count, &sizer) { 1 &+ ProtoSize.int64(numbers[$0]) }
        case .doubleArray(let numbers):
            return sizeOfArray(numbers.count, &sizer) { _ in 9 }
        }
    }

    /// Size of an `AnyValue` holding an `ArrayValue` (array_value = 5) of `count` `AnyValue`s.
    private static func sizeOfArray(_ count: Int, _ sizer: inout ProtoSizer, element: (Int) -> Int) -> Int {
        let arraySlot = sizer.reserveSlot()
        var arraySize = 0
        for index in 0..<count {
            let elementSlot = sizer.reserveSlot()
            let elementSize = element(index)
            sizer.set(elementSlot, elementSize)
            arraySize &+= 1 &+ ProtoSize.varint(elementSize) &+ elementSize  // values = 1
        }
        sizer.set(arraySlot, arraySize)
        return 1 &+ ProtoSize.varint(arraySize) &+ arraySize
    }

    static func writeValue(_ value: borrowing AttributeValue, _ writer: inout ProtoWriter) {
        switch value {
        case .string(let text): writer.writeTag(0x0A); writer.writeString(text)
        case .bool(let flag): writer.writeTag(0x10); writer.writeBool(flag)
        case .int(let number): writer.writeTag(0x18); writer.writeInt64(number)
        case .double(let number): writer.writeTag(0x21); writer.writeDouble(number)
        case .bytes(let bytes): writer.writeTag(0x3A); writer.writeBytes(bytes)
        case .stringArray(let texts):
            writeArray(texts.count, &writer) { $1.writeTag(0x0A); $1.writeString(texts[$0]) }
        case .boolArray(let flags):
            writeArray(flags.count, &writer) { $1.writeTag(0x10); $1.writeBool(flags[$0]) }
        case .intArray(let numbers):
            writeArray(numbers.count, &writer) { $1.writeTag(0x18); $1.writeInt64(numbers[$0]) }
        case .doubleArray(let numbers):
            writeArray(numbers.count, &writer) { $1.writeTag(0x21); $1.writeDouble(numbers[$0]) }
        }
    }

    private static func writeArray(_ count: Int, _ writer: inout ProtoWriter, element: (Int, inout ProtoWriter) -> Void) {
        writer.writeTag(0x2A)  // array_value = 5
        writer.writeRecordedLength()
        for index in 0..<count {
            writer.writeTag(0x0A)  // values = 1
            writer.writeRecordedLength()
            element(index, &writer)
        }
    }
}

extension SpanBatch {
    /// The batch (or the spans in `range`) as binary `ExportTraceServiceRequest` bytes, encoded
    /// straight from the spans (in their blocks, for a batch cut by the pipeline): exactly
    /// `makeRequest().serializedBytes()`, without building the intermediate messages.
    /// `headroom` zero bytes precede the request (see ``ProtoEncodable/encodedBytes(expectedLengths:headroom:)``).
    public func encodedExportRequest(range: Range<Int>? = nil, headroom: Int = 0) -> [UInt8] {
        let range = range ?? 0..<count
        // About one length per span plus two per attribute: grown at most once or twice.
        let expectedLengths = 16 &* range.count &+ 64
        if let list = recordList {
            return ScopedRequestEncoding(resource: resource, spanRecords: list, range: range)
                .encodedBytes(expectedLengths: expectedLengths, headroom: headroom)
        }
        return ScopedRequestEncoding(resource: resource, spans: spans[range])
            .encodedBytes(expectedLengths: expectedLengths, headroom: headroom)
    }
}
