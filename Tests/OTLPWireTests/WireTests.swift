@testable import OTLPWire
import Testing

/// The runtime's primitives: varint sizes and bounds, UTF-8 validation, base64, JSON parsing.
@Suite struct WireTests {
    @Test func varintSizeMatchesTheEncodedLength() {
        var values: [UInt64] = [0, 1, 127, 128, 16383, 16384, .max, 1 << 63]
        for shift in 0..<64 { values.append(1 << UInt64(shift)); values.append((1 << UInt64(shift)) - 1) }
        for value in values {
            var v = value, n = 1
            while v >= 0x80 { v >>= 7; n += 1 }
            #expect(ProtoSize.varint(value) == n, "\(value)")
        }
        #expect(ProtoSize.int32(-1) == 10)
        #expect(ProtoSize.sint32(-1) == 1)
        #expect(ProtoSize.sint64(.min) == 10)
    }

    @Test func zigZagRoundTrips() {
        for v: Int64 in [0, -1, 1, .min, .max, -64, 63] { #expect(ProtoZigZag.decode64(ProtoZigZag.encode64(v)) == v) }
        for v: Int32 in [0, -1, 1, .min, .max] { #expect(ProtoZigZag.decode32(ProtoZigZag.encode32(v)) == v) }
        #expect(ProtoZigZag.encode32(-1) == 1 && ProtoZigZag.encode32(1) == 2)
    }

    @Test func readerReportsTruncationAndOverlongVarints() throws {
        func read(_ bytes: [UInt8]) throws(ProtoDecodingError) -> UInt64 {
            var failure: ProtoDecodingError?
            var value: UInt64 = 0
            bytes.withUnsafeBytes { buffer in
                var reader = ProtoReader(buffer)
                do throws(ProtoDecodingError) { value = try reader.readVarint() } catch { failure = error }
            }
            if let failure { throw failure }
            return value
        }
        #expect(try read([0xAC, 0x02]) == 300)
        #expect(try read([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) == .max)
        #expect(throws: ProtoDecodingError.self) { try read([0xAC]) }
        #expect(throws: ProtoDecodingError.self) { try read([]) }
        do { _ = try read([UInt8](repeating: 0x80, count: 10) + [0]) } catch { #expect(error.code == .overlongVarint) }
    }

    static let utf8Cases: [([UInt8], Bool)] = [
        (Array("plain ascii, longer than eight bytes".utf8), true),
        (Array("héllo ✓ 𝄞 — mixed".utf8), true),
        ([0xC3, 0x28], false),            // bad continuation
        ([0xC0, 0xAF], false),            // overlong
        ([0xE0, 0x80, 0xAF], false),      // overlong 3-byte
        ([0xED, 0xA0, 0x80], false),      // surrogate
        ([0xF4, 0x90, 0x80, 0x80], false),  // above U+10FFFF
        ([0xF5, 0x80, 0x80, 0x80], false),
        ([0x80], false),                  // lone continuation
        ([0xE2, 0x82], false),            // truncated
        ([0xF0, 0x9F, 0x98, 0x80], true),  // 😀
        ([0xEF, 0xBF, 0xBF], true),        // U+FFFF
    ]

    @Test(arguments: 0..<utf8Cases.count)
    func utf8ValidationAgreesWithTheStandardLibrary(index: Int) {
        let (bytes, valid) = Self.utf8Cases[index]
        let ours = bytes.withUnsafeBytes { UTF8Validation.isValid($0) }
        #expect(ours == valid)
        #expect((String(validating: bytes, as: UTF8.self) != nil) == valid)
    }

    @Test func base64RoundTripsAndRejectsGarbage() {
        for length in 0..<10 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 5) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("foob".utf8)) == "Zm9vYg==")
        #expect(Base64.decode("Zm9vYg") == Array("foob".utf8))  // padding optional
        #expect(Base64.decode("-_8") == [0xFB, 0xFF])  // URL-safe alphabet
        #expect(Base64.decode("Zm9v*") == nil)
        #expect(Base64.decode("Zg=x") == nil)
    }

    @Test func jsonParserHandlesEscapesNumbersAndNesting() throws {
        let value = try JSONValue.parse(Array(#"{"a":[1,-2.5e3,"x\u00e9\ud834\udd1e\n"],"b":{"c":null,"d":true}}"#.utf8))
        guard case .object(let members) = value else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["a", "b"])
        #expect(members[0].value == .array([.number("1"), .number("-2.5e3"), .string("xé𝄞\n")]))
        #expect(throws: ProtoDecodingError.self) { try JSONValue.parse(Array("[01]".utf8)) }
        #expect(throws: ProtoDecodingError.self) { try JSONValue.parse(Array("[1,]".utf8)) }
        #expect(throws: ProtoDecodingError.self) { try JSONValue.parse(Array(String(repeating: "[", count: 101).utf8) + Array(String(repeating: "]", count: 101).utf8)) }
        _ = try JSONValue.parse(Array(String(repeating: "[", count: 100).utf8) + Array(String(repeating: "]", count: 100).utf8))
    }

    @Test func jsonWriterEscapesStringsAndWritesSpecialDoubles() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("s"); writer.string("q\"b\\n\n\u{01}é")
        writer.key("d"); writer.beginArray(); writer.double(.nan); writer.double(-.infinity); writer.double(-0.0); writer.double(1e300); writer.endArray()
        writer.key("i"); writer.int64(.min)
        writer.key("h"); writer.hex([0x00, 0xAB])
        writer.endObject()
        #expect(String(decoding: writer.bytes, as: UTF8.self)
                == #"{"s":"q\"b\\n\n\u0001é","d":["NaN","-Infinity",-0.0,1e+300],"i":"-9223372036854775808","h":"00ab"}"#)
    }

    /// Runs `body` on a reader over `bytes`, returning its result or its error.
    static func reading<T>(_ bytes: [UInt8], _ body: (inout ProtoReader) throws(ProtoDecodingError) -> T) -> Result<T, ProtoDecodingError> {
        bytes.withUnsafeBytes { buffer in
            var reader = ProtoReader(buffer)
            do throws(ProtoDecodingError) { return .success(try body(&reader)) } catch { return .failure(error) }
        }
    }

    @Test func packedFixedRunsAppendWholeValuesInOneCopy() throws {
        // Two doubles (1.0, -2.5), appended after an existing element.
        let run: [UInt8] = [16] + [0, 0, 0, 0, 0, 0, 0xF0, 0x3F] + [0, 0, 0, 0, 0, 0, 0x04, 0xC0]
        let doubles = try Self.reading(run) { (r: inout ProtoReader) throws(ProtoDecodingError) -> [Double] in
            var values: [Double] = [7]
            try r.readPackedFixed(into: &values)
            return values
        }.get()
        #expect(doubles == [7, 1.0, -2.5])
        let ints = try Self.reading([8, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]) { (r: inout ProtoReader) throws(ProtoDecodingError) -> [Int32] in
            var values: [Int32] = []
            try r.readPackedFixed(into: &values)
            return values
        }.get()
        #expect(ints == [1, -1])
        // 11 bytes of fixed32: the two whole values are kept, then a truncation error at byte 9.
        var kept: [UInt32] = []
        let result = Self.reading([11, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0]) { (r: inout ProtoReader) throws(ProtoDecodingError) -> Void in
            try r.readPackedFixed(into: &kept)
        }
        #expect(kept == [1, 2])
        guard case .failure(let error) = result else { Issue.record("no error"); return }
        #expect(error.code == .truncated && error.offset == 9)
    }

    @Test func tagScanCountsTheRunOfTopLevelOccurrencesAndStopsAtMalformedBytes() throws {
        // After tag 0x12 (read): its value (itself holding a 0x12 tag), two more 0x12, a varint,
        // then a later 0x12 that is not part of the run.
        let message: [UInt8] = [0x12, 0x02, 0x12, 0x00, 0x12, 0x00, 0x12, 0x01, 0x41, 0x08, 0x05, 0x12, 0x00]
        let counts = try Self.reading(message) { (r: inout ProtoReader) throws(ProtoDecodingError) -> (Int, Int) in
            _ = try r.nextTag()
            var array: [Int] = []
            r.reserveRepeated(&array, tag: 0x12)
            return (r.occurrencesLeft(of: 0x12), array.capacity)
        }.get()
        #expect(counts.0 == 3)
        #expect(counts.1 >= 3)
        // A length past the end stops the scan; the count so far stands.
        let broken: [UInt8] = [0x12, 0x00, 0x12, 0x00, 0x12, 0x7F]
        let partial = try Self.reading(broken) { (r: inout ProtoReader) throws(ProtoDecodingError) -> Int in
            _ = try r.nextTag()
            return r.occurrencesLeft(of: 0x12)
        }.get()
        #expect(partial == 3)
        // Packed varints: one per byte without the continuation bit.
        let varints = try Self.reading([0x01, 0xAC, 0x02, 0xFF, 0xFF, 0x03, 0x80]) { (r: inout ProtoReader) throws(ProtoDecodingError) -> Int in
            r.packedVarintCount()
        }.get()
        #expect(varints == 3)
    }

    @Test func aNonMinimallyEncodedTagEndsTheOneByteTagRun() throws {
        // [len 0] 0x12 [len 0] (0x92 0x00: tag 0x12 in two bytes) [len 0]: skipping field by
        // field reads three occurrences; the one-byte scan stops at the two-byte tag (the merge
        // loop then reads that element as usual: the scan only sizes a reservation).
        let bytes: [UInt8] = [0x00, 0x12, 0x00, 0x92, 0x00, 0x00]
        let (fast, general) = try Self.reading(bytes) { (r: inout ProtoReader) throws(ProtoDecodingError) -> (Int, Int) in
            (r.lengthDelimitedOccurrencesLeft(of: 0x12), r.occurrencesLeftBySkipping(of: 0x12))
        }.get()
        #expect(fast == 2)
        #expect(general == 3)
    }

    @Test func oneByteLengthDelimitedTagScanCountsWhatTheGeneralScanCounts() throws {
        // Runs of tag 0x12 with lengths of one, two and more varint bytes, broken by other tags,
        // lengths past the end, overlong and truncated prefixes: the fast scan for one-byte
        // length-delimited tags must count exactly what skipping field by field counts, except
        // that a tag 0x12 written in more than one byte (0x92 0x80… 0x00: random bytes can form
        // one) ends its run, where the general scan reads on.
        var generator = SystemRandomNumberGenerator()
        var checked = 0
        for round in 0..<4000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                switch Int.random(in: 0..<10, using: &generator) {
                case 0..<5:  // a well-formed element, sometimes with a non-minimal or long prefix
                    let length = Int.random(in: 0...200, using: &generator)
                    if length >= 128 || Bool.random(using: &generator) {
                        var v = length
                        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
                        bytes.append(UInt8(v))
                    } else {
                        bytes.append(UInt8(length))
                    }
                    bytes += (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                case 5: bytes += [UInt8](repeating: 0x80, count: Int.random(in: 1...11, using: &generator))  // overlong / truncated
                case 6: bytes.append(UInt8.random(in: 0x20...0x7F, using: &generator))  // length likely past the end
                case 7: bytes += [0x08, 0x01]  // another field
                default: break
                }
                if Int.random(in: 0..<4, using: &generator) != 0 { bytes.append(0x12) }
            }
            let (fast, general, stoppedAtLongTag) = try Self.reading(bytes) {
                (r: inout ProtoReader) throws(ProtoDecodingError) -> (Int, Int, Bool) in
                let run = ProtoReader.lengthDelimitedRun(of: 0x12, from: r.position, to: r.end)
                let stoppedAtLongTag = run.end.map { $0 != r.end && $0.load(as: UInt8.self) == 0x92 } ?? false
                return (r.lengthDelimitedOccurrencesLeft(of: 0x12), r.occurrencesLeftBySkipping(of: 0x12), stoppedAtLongTag)
            }.get()
            if stoppedAtLongTag {
                #expect(fast <= general, "round \(round): \(bytes)")
            } else {
                #expect(fast == general, "round \(round): \(bytes)")
            }
            #expect(fast >= 1 && fast <= Swift.max(1, bytes.count))
            if fast > 1 { checked += 1 }
        }
        #expect(checked > 100)
    }

    @Test func twoByteVarintsDecodeWithoutTheSlowPathAndTruncationIsStillAnError() throws {
        for value: UInt64 in [128, 129, 300, 1000, 16383] {
            let bytes: [UInt8] = [UInt8(value & 0x7F) | 0x80, UInt8(value >> 7)]
            #expect(try Self.reading(bytes) { (r: inout ProtoReader) throws(ProtoDecodingError) -> UInt64 in try r.readVarint() }.get() == value)
        }
        // A non-minimal two-byte zero and a three-byte value.
        #expect(try Self.reading([0x80, 0x00]) { (r: inout ProtoReader) throws(ProtoDecodingError) -> UInt64 in try r.readVarint() }.get() == 0)
        #expect(try Self.reading([0x80, 0x80, 0x01]) { (r: inout ProtoReader) throws(ProtoDecodingError) -> UInt64 in try r.readVarint() }.get() == 16384)
        // The second byte is past the end of the current message (a packed run of one byte).
        let outside = Self.reading([0x01, 0x80, 0x01]) { (r: inout ProtoReader) throws(ProtoDecodingError) -> UInt64 in
            let limit = try r.pushLimit()
            defer { r.popLimit(limit) }
            return try r.readVarint()
        }
        guard case .failure(let error) = outside else { Issue.record("read past the end of the run"); return }
        #expect(error.code == .truncated)
        // A two-byte length prefix past the end.
        let long = Self.reading([0x80, 0x01, 0x00]) { (r: inout ProtoReader) throws(ProtoDecodingError) -> Int in try r.readLength() }
        guard case .failure(let lengthError) = long else { Issue.record("length past the end accepted"); return }
        #expect(lengthError.code == .lengthPastEnd)
    }

    @Test func twoByteTagsReadLikeLongerOnesAndKeepTheirErrors() throws {
        func tag(_ bytes: [UInt8]) -> Result<UInt32?, ProtoDecodingError> {
            Self.reading(bytes) { (r: inout ProtoReader) throws(ProtoDecodingError) -> UInt32? in try r.nextTag() }
        }
        // Field 16 as fixed32 (a span's flags), field 2047, and field 16 written in three bytes.
        #expect(try tag([0x85, 0x01]).get() == 16 << 3 | 5)
        #expect(try tag([0xFA, 0x7F]).get() == 2047 << 3 | 2)
        #expect(try tag([0x85, 0x81, 0x00]).get() == 16 << 3 | 5)
        // Field 0 written in two bytes, wire type 7 in two bytes, a tag cut after its first byte.
        for (bytes, code) in [([0x80, 0x00], ProtoDecodingError.Code.invalidFieldNumber), ([0x87, 0x01], .invalidWireType),
                              ([0x85], .truncated)] as [([UInt8], ProtoDecodingError.Code)] {
            guard case .failure(let error) = tag(bytes) else { Issue.record("accepted \(bytes)"); continue }
            #expect(error.code == code, "\(bytes)")
        }
    }

    @Test func fixedWidthArraysAreCopiedFromUnalignedInput() throws {
        // The same values at every offset 0..<8 of the input: bytes, packed fixed64 and fixed32.
        let values: [UInt64] = [1, 0x0102_0304_0506_0708, .max, 0, 1 << 63]
        for offset in 0..<8 {
            var run: [UInt8] = [UInt8](repeating: 0xEE, count: offset) + [UInt8(values.count * 8)]
            for v in values { withUnsafeBytes(of: v.littleEndian) { run += $0 } }
            let decoded = try Self.reading(run) { (r: inout ProtoReader) throws(ProtoDecodingError) -> [UInt64] in
                r.position += offset
                var array: [UInt64] = []
                try r.readPackedFixed(into: &array)
                return array
            }.get()
            #expect(decoded == values, "offset \(offset)")
            let bytes = try Self.reading(run) { (r: inout ProtoReader) throws(ProtoDecodingError) -> [UInt8] in
                r.position += offset
                return try r.readBytes()
            }.get()
            #expect(bytes == Array(run[(offset + 1)...]))
            let halves = try Self.reading(run) { (r: inout ProtoReader) throws(ProtoDecodingError) -> [UInt32] in
                r.position += offset
                var array: [UInt32] = [9]
                try r.readPackedFixed(into: &array)
                return array
            }.get()
            #expect(halves == [9] + values.flatMap { [UInt32(truncatingIfNeeded: $0), UInt32(truncatingIfNeeded: $0 >> 32)] })
        }
    }
}

