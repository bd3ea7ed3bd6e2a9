// An ExportTraceServiceRequest encoded straight from the pipeline's SpanData, without building
// the generated OTLP messages first: no per-span allocations (ids, key/value arrays, AnyValues),
// no copies. The bytes are exactly those of `SpanBatch.makeRequest().serializedBytes()` (field
// order and omission rules of the generated code, which matches the reference protobuf); a test
// compares the two on randomized batches.
import OTLPProto
import OTLPWire
public import TelemetryCore
import TelemetryPipeline

/// A pipeline record that belongs to an instrumentation scope (spans, log records), read in
/// place through its pipeline view.
protocol ScopedRecord {
    associatedtype View: ScopedRecordView where View.Record == Self
    var scope: InstrumentationScope { get }
    /// The view of the record at `record`, valid while its storage is.
    static func view(at record: UnsafePointer<Self>) -> View
    /// The tags of the request's nesting: the request's `resource_*` list, the resource, the
    /// `scope_*` list, the scope and the records.
    static var requestTags: (resources: UInt32, resource: UInt32, scopes: UInt32, scope: UInt32, records: UInt32) { get }
}

/// A pipeline view of a record, which lends the record to a closure.
protocol ScopedRecordView {
    associatedtype Record
    func withBorrowedRecord<Result>(_ body: (borrowing Record) -> Result) -> Result
}

extension SpanData: ScopedRecord {
    @inline(__always) static func view(at record: UnsafePointer<SpanData>) -> SpanView { SpanView(unsafeSpan: record) }
    static var requestTags: (resources: UInt32, resource: UInt32, scopes: UInt32, scope: UInt32, records: UInt32) {
        (CollectorTraceV1ExportTraceServiceRequest.Tag.resourceSpans, TraceV1ResourceSpans.Tag.resource,
         TraceV1ResourceSpans.Tag.scopeSpans, TraceV1ScopeSpans.Tag.scope, TraceV1ScopeSpans.Tag.spans)
    }
}
extension LogRecordData: ScopedRecord {
    @inline(__always) static func view(at record: UnsafePointer<LogRecordData>) -> LogRecordView { LogRecordView(unsafeRecord: record) }
    static var requestTags: (resources: UInt32, resource: UInt32, scopes: UInt32, scope: UInt32, records: UInt32) {
        (CollectorLogsV1ExportLogsServiceRequest.Tag.resourceLogs, LogsV1ResourceLogs.Tag.resource,
         LogsV1ResourceLogs.Tag.scopeLogs, LogsV1ScopeLogs.Tag.scope, LogsV1ScopeLogs.Tag.logRecords)
    }
}
extension SpanView: ScopedRecordView {
    @inline(__always) func withBorrowedRecord<Result>(_ body: (borrowing SpanData) -> Result) -> Result { withSpan(body) }
}
extension LogRecordView: ScopedRecordView {
    @inline(__always) func withBorrowedRecord<Result>(_ body: (borrowing LogRecordData) -> Result) -> Result { withRecord(body) }
}

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

    /// Calls `body` with a function from a position (0 ..< count) to a view of the record there
    /// and the attributes stored before its own (inline in a span block; none otherwise). The
    /// views are valid inside `body` only.
    func withRecords<Result>(
        _ body: ((Int) -> (record: Record.View, leading: UnsafeBufferPointer<Attribute>)) -> Result
    ) -> Result {
        switch self {
        case .array(let records):
            return records.withUnsafeBufferPointer { buffer in
                body { (Record.view(at: buffer.baseAddress! + $0), UnsafeBufferPointer(start: nil, count: 0)) }
            }
        case .spanRecords(let list, let range):
            defer { list.finishedReading() }
            return withExtendedLifetime(list) {
                body { position in
                    let index = range.lowerBound + position
                    // Only made for Record == SpanData (``ScopedRequestEncoding/init(resource:spanRecords:range:)``).
                    return (unsafeBitCast(list.span(at: index), to: Record.View.self), list.inlineAttributes(at: index))
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
            if last >= 0, record.withBorrowedRecord({ scopes[last] == $0.scope }) {
                index = last
            } else if let found = record.withBorrowedRecord({ record in scopes.firstIndex { $0 == record.scope } }) {
                index = found
            } else {
                index = scopes.count
                let recordScope = record.withBorrowedRecord { $0.scope }
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
    typealias RecordSize = (Record.View, UnsafeBufferPointer<Attribute>, inout ProtoSizer) -> Int
    typealias RecordWrite = (Record.View, UnsafeBufferPointer<Attribute>, inout ProtoWriter) -> Void

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
        writer.writeTag(Record.requestTags.resources)
        writer.writeRecordedLength()
        writer.writeTag(Record.requestTags.resource)
        writer.writeMessage(resource)
        records.withRecords { recordAt in
            for group in groups {
                writer.writeTag(Record.requestTags.scopes)
                writer.writeRecordedLength()
                writer.writeTag(Record.requestTags.scope)
                writer.writeMessage(group.scope)
                for position in group.positions {
                    writer.writeTag(Record.requestTags.records)
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
    /// `span` lends the span where the batch stores it: no field access copies the whole span;
    /// `leading` are attributes stored before the span's own (inline in its block).
    static func size(_ span: SpanView, leading: UnsafeBufferPointer<Attribute>, _ sizer: inout ProtoSizer) -> Int {
        span.withSpan { span in
            var size = 18 &+ 10  // trace_id = 1 (tag, length, 16 bytes); span_id = 2 (tag, length, 8 bytes)
            if !span.context.traceState.isEmpty { size &+= 1 &+ ProtoSize.string(span.context.traceState) }
            if span.parentSpanID != nil { size &+= 10 }  // parent_span_id = 4
            if !span.name.isEmpty { size &+= 1 &+ ProtoSize.string(span.name) }
            size &+= 2  // kind = 6 (never unspecified)
            if span.startTimeUnixNano != 0 { size &+= 9 }
            if span.endTimeUnixNano != 0 { size &+= 9 }
            size &+= AttributeEncoding.sizeOfList(leading, tagSize: 1, &sizer)  // attributes = 9
            size &+= AttributeEncoding.sizeOfList(span.attributes, tagSize: 1, &sizer)
            if span.droppedAttributesCount != 0 { size &+= 1 &+ ProtoSize.uint32(span.droppedAttributesCount) }
            for event in span.events {  // events = 11
                let slot = sizer.reserveSlot()
                var eventSize = 0
                if event.timeUnixNano != 0 { eventSize &+= 9 }
                if !event.name.isEmpty { eventSize &+= 1 &+ ProtoSize.string(event.name) }
                eventSize &+= AttributeEncoding.sizeOfList(event.attributes, tagSize: 1, &sizer)
                if event.droppedAttributesCount != 0 { eventSize &+= 1 &+ ProtoSize.uint32(event.droppedAttributesCount) }
                sizer.set(slot, eventSize)
                size &+= 1 &+ ProtoSize.varint(eventSize) &+ eventSize
            }
            if span.droppedEventsCount != 0 { size &+= 1 &+ ProtoSize.uint32(span.droppedEventsCount) }
            for link in span.links {  // links = 13
                let slot = sizer.reserveSlot()
                var linkSize = 18 &+ 10 &+ 5  // trace_id, span_id, flags (never 0: has-is-remote bit)
                if !link.context.traceState.isEmpty { linkSize &+= 1 &+ ProtoSize.string(link.context.traceState) }
                linkSize &+= AttributeEncoding.sizeOfList(link.attributes, tagSize: 1, &sizer)
                if link.droppedAttributesCount != 0 { linkSize &+= 1 &+ ProtoSize.uint32(link.droppedAttributesCount) }
                sizer.set(slot, linkSize)
                size &+= 1 &+ ProtoSize.varint(linkSize) &+ linkSize
            }
            if span.droppedLinksCount != 0 { size &+= 1 &+ ProtoSize.uint32(span.droppedLinksCount) }
            switch span.status {  // status = 15
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
            if span.context.traceFlags.rawValue != 0 { size &+= 2 &+ 4 }  // flags = 16 (two-byte tag)
            return size
        }
    }

    static func write(_ span: SpanView, leading: UnsafeBufferPointer<Attribute>, _ writer: inout ProtoWriter) {
        span.withSpan { span in
            writer.writeTag(TraceV1Span.Tag.traceId)
            writer.writeLength(16)
            writer.writeFixed64(span.context.traceID.high.byteSwapped)  // big-endian bytes
            writer.writeFixed64(span.context.traceID.low.byteSwapped)
            writer.writeTag(TraceV1Span.Tag.spanId)
            writer.writeLength(8)
            writer.writeFixed64(span.context.spanID.value.byteSwapped)
            if !span.context.traceState.isEmpty {
                writer.writeTag(TraceV1Span.Tag.traceState)
                writer.writeString(span.context.traceState)
            }
            if let parent = span.parentSpanID {
                writer.writeTag(TraceV1Span.Tag.parentSpanId)
                writer.writeLength(8)
                writer.writeFixed64(parent.value.byteSwapped)
            }
            if !span.name.isEmpty {
                writer.writeTag(TraceV1Span.Tag.name)
                writer.writeString(span.name)
            }
            writer.writeTag(TraceV1Span.Tag.kind)
            writer.writeByte(kindNumber(span.kind))
            if span.startTimeUnixNano != 0 {
                writer.writeTag(TraceV1Span.Tag.startTimeUnixNano)
                writer.writeFixed64(span.startTimeUnixNano)
            }
            if span.endTimeUnixNano != 0 {
                writer.writeTag(TraceV1Span.Tag.endTimeUnixNano)
                writer.writeFixed64(span.endTimeUnixNano)
            }
            AttributeEncoding.writeList(leading, tag: TraceV1Span.Tag.attributes, &writer)
            AttributeEncoding.writeList(span.attributes, tag: TraceV1Span.Tag.attributes, &writer)
            if span.droppedAttributesCount != 0 {
                writer.writeTag(TraceV1Span.Tag.droppedAttributesCount)
                writer.writeUInt32(span.droppedAttributesCount)
            }
            for event in span.events {
                writer.writeTag(TraceV1Span.Tag.events)
                writer.writeRecordedLength()
                if event.timeUnixNano != 0 {
                    writer.writeTag(TraceV1Span.Event.Tag.timeUnixNano)
                    writer.writeFixed64(event.timeUnixNano)
                }
                if !event.name.isEmpty {
                    writer.writeTag(TraceV1Span.Event.Tag.name)
                    writer.writeString(event.name)
                }
                AttributeEncoding.writeList(event.attributes, tag: TraceV1Span.Event.Tag.attributes, &writer)
                if event.droppedAttributesCount != 0 {
                    writer.writeTag(TraceV1Span.Event.Tag.droppedAttributesCount)
                    writer.writeUInt32(event.droppedAttributesCount)
                }
            }
            if span.droppedEventsCount != 0 {
                writer.writeTag(TraceV1Span.Tag.droppedEventsCount)
                writer.writeUInt32(span.droppedEventsCount)
            }
            for link in span.links {
                writer.writeTag(TraceV1Span.Tag.links)
                writer.writeRecordedLength()
                writer.writeTag(TraceV1Span.Link.Tag.traceId)
                writer.writeLength(16)
                writer.writeFixed64(link.context.traceID.high.byteSwapped)
                writer.writeFixed64(link.context.traceID.low.byteSwapped)
                writer.writeTag(TraceV1Span.Link.Tag.spanId)
                writer.writeLength(8)
                writer.writeFixed64(link.context.spanID.value.byteSwapped)
                if !link.context.traceState.isEmpty {
                    writer.writeTag(TraceV1Span.Link.Tag.traceState)
                    writer.writeString(link.context.traceState)
                }
                AttributeEncoding.writeList(link.attributes, tag: TraceV1Span.Link.Tag.attributes, &writer)
                if link.droppedAttributesCount != 0 {
                    writer.writeTag(TraceV1Span.Link.Tag.droppedAttributesCount)
                    writer.writeUInt32(link.droppedAttributesCount)
                }
                writer.writeTag(TraceV1Span.Link.Tag.flags)  // trace flags | HAS_IS_REMOTE (0x100) | IS_REMOTE (0x200)
                writer.writeFixed32(UInt32(link.context.traceFlags.rawValue) | 0x100 | (link.context.isRemote ? 0x200 : 0))
            }
            if span.droppedLinksCount != 0 {
                writer.writeTag(TraceV1Span.Tag.droppedLinksCount)
                writer.writeUInt32(span.droppedLinksCount)
            }
            switch span.status {
            case .unset: break
            case .ok:
                writer.writeTag(TraceV1Span.Tag.status)
                writer.writeRecordedLength()
                writer.writeTag(TraceV1Status.Tag.code)
                writer.writeByte(1)  // STATUS_CODE_OK
            case .error(let description):
                writer.writeTag(TraceV1Span.Tag.status)
                writer.writeRecordedLength()
                if !description.isEmpty {
                    writer.writeTag(TraceV1Status.Tag.message)
                    writer.writeString(description)
                }
                writer.writeTag(TraceV1Status.Tag.code)
                writer.writeByte(2)  // STATUS_CODE_ERROR
            }
            if span.context.traceFlags.rawValue != 0 {
                writer.writeTag(TraceV1Span.Tag.flags)  // fixed32, behind a two-byte tag
                writer.writeFixed32(UInt32(span.context.traceFlags.rawValue))
            }
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
            for index in 0..<attributes.count {
                let slot = sizer.reserveSlot()
                let keyLength = attributes[index].key.utf8.count
                var keyValueSize = keyLength == 0 ? 0 : 1 &+ ProtoSize.varint(keyLength) &+ keyLength  // key = 1
                let valueSlot = sizer.reserveSlot()
                let valueSize: Int
                switch attributes[index].value {  // scalars and strings in place; the rest below
                case .string(let text): valueSize = 1 &+ ProtoSize.string(text)
                case .bool: valueSize = 2
                case .int(let number): valueSize = 1 &+ ProtoSize.int64(number)
                case .double: valueSize = 9
                default: valueSize = sizeOfValue(attributes[index].value, &sizer)
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
            for index in 0..<attributes.count {
                writer.writeTag(tag)
                writer.writeRecordedLength()
                if !attributes[index].key.isEmpty {
                    writer.writeTag(CommonV1KeyValue.Tag.key)
                    writer.writeString(attributes[index].key)
                }
                writer.writeTag(CommonV1KeyValue.Tag.value)
                writer.writeRecordedLength()
                switch attributes[index].value {  // scalars and strings in place; the rest below
                case .string(let text): writer.writeTag(CommonV1AnyValue.Tag.stringValue); writer.writeString(text)
                case .bool(let flag): writer.writeTag(CommonV1AnyValue.Tag.boolValue); writer.writeBool(flag)
                case .int(let number): writer.writeTag(CommonV1AnyValue.Tag.intValue); writer.writeInt64(number)
                case .double(let number): writer.writeTag(CommonV1AnyValue.Tag.doubleValue); writer.writeDouble(number)
                default: writeValue(attributes[index].value, &writer)
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
        case .string(let text): writer.writeTag(CommonV1AnyValue.Tag.stringValue); writer.writeString(text)
        case .bool(let flag): writer.writeTag(CommonV1AnyValue.Tag.boolValue); writer.writeBool(flag)
        case .int(let number): writer.writeTag(CommonV1AnyValue.Tag.intValue); writer.writeInt64(number)
        case .double(let number): writer.writeTag(CommonV1AnyValue.Tag.doubleValue); writer.writeDouble(number)
        case .bytes(let bytes): writer.writeTag(CommonV1AnyValue.Tag.bytesValue); writer.writeBytes(bytes)
        case .stringArray(let texts):
            writeArray(texts.count, &writer) { $1.writeTag(CommonV1AnyValue.Tag.stringValue); $1.writeString(texts[$0]) }
        case .boolArray(let flags):
            writeArray(flags.count, &writer) { $1.writeTag(CommonV1AnyValue.Tag.boolValue); $1.writeBool(flags[$0]) }
        case .intArray(let numbers):
            writeArray(numbers.count, &writer) { $1.writeTag(CommonV1AnyValue.Tag.intValue); $1.writeInt64(numbers[$0]) }
        case .doubleArray(let numbers):
            writeArray(numbers.count, &writer) { $1.writeTag(CommonV1AnyValue.Tag.doubleValue); $1.writeDouble(numbers[$0]) }
        }
    }

    private static func writeArray(_ count: Int, _ writer: inout ProtoWriter, element: (Int, inout ProtoWriter) -> Void) {
        writer.writeTag(CommonV1AnyValue.Tag.arrayValue)
        writer.writeRecordedLength()
        for index in 0..<count {
            writer.writeTag(CommonV1ArrayValue.Tag.values)
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
