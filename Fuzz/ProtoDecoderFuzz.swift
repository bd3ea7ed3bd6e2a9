// libFuzzer target for the binary protobuf decoder (`ProtoReader` and the generated merge code)
// on the three OTLP export requests. Built by tools/fuzz.sh from OTLPWire's sources and the
// generator's output for Protos/.
//
// Each input is decoded as a trace, a metrics and a logs request. Checked for each:
// - decoding with and without reuse of repeated values gives the same outcome (the same
//   encoding, or the same error code);
// - a decoded message re-encodes to `serializedSize` bytes, and those bytes decode to a message
//   that encodes to the same bytes (decode → encode → decode is stable);
// - its OTLP/JSON decodes back to the same message (but for NaN payloads and signs: JSON has
//   one NaN);
// - validating without decoding (`validate(serializedBytes:)`) accepts exactly the inputs that
//   decode, and fails with the same error code.
import OTLPProto

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzProtoDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var decoded = 0
    decoded += check(CollectorTraceV1ExportTraceServiceRequest.self, input)
    decoded += check(CollectorMetricsV1ExportMetricsServiceRequest.self, input)
    decoded += check(CollectorLogsV1ExportLogsServiceRequest.self, input)
    return decoded > 3 ? 1 : 0
}

private func decode<M: ProtoMessage>(_ type: M.Type, _ input: UnsafeRawBufferPointer, reuse: Bool)
    -> Result<M, ProtoDecodingError> {
    do throws(ProtoDecodingError) {
        return .success(try M(serializedBytes: input, options: ProtoDecodingOptions(reusesRepeatedValues: reuse)))
    } catch {
        return .failure(error)
    }
}

private func check<M: JSONMessage & ProtoValidatable>(_ type: M.Type, _ input: UnsafeRawBufferPointer) -> Int {
    let reused = decode(M.self, input, reuse: true)
    let plain = decode(M.self, input, reuse: false)
    var validation: ProtoDecodingError?
    do throws(ProtoDecodingError) { try M.validate(serializedBytes: input) } catch { validation = error }
    switch plain {
    case .success: require(validation == nil, "\(M.self): validation rejects what decodes: \(validation!)")
    case .failure(let error):
        require(validation?.code == error.code, "\(M.self): decode fails with \(error), validation with \(String(describing: validation))")
    }
    switch (reused, plain) {
    case (.failure(let a), .failure(let b)):
        require(a.code == b.code, "\(M.self): reuse changes the error: \(a) vs \(b)")
        return 0
    case (.success, .failure(let error)), (.failure(let error), .success):
        fatalError("\(M.self): only one of the two decodes failed: \(error)")
    case (.success(let message), .success(let other)):
        let bytes = message.serializedBytes()
        require(other.serializedBytes() == bytes, "\(M.self): reuse changes the decoded message")
        require(message.serializedSize == bytes.count, "\(M.self): serializedSize disagrees with the encoding")
        let again: M
        do throws(ProtoDecodingError) { again = try M(serializedBytes: bytes) } catch {
            fatalError("\(M.self): our own encoding does not decode: \(error)")
        }
        require(again.serializedBytes() == bytes, "\(M.self): decode → encode → decode is not stable")
        let json = message.jsonBytes()
        let fromJSON: M
        do throws(ProtoDecodingError) { fromJSON = try M(jsonBytes: json) } catch {
            fatalError("\(M.self): our own JSON does not decode: \(error)\n\(String(decoding: json, as: UTF8.self))")
        }
        require(sameUpToNaNPayloads(fromJSON.serializedBytes(), bytes),
                "\(M.self): JSON round trip changes the message\n\(String(decoding: json, as: UTF8.self))\n"
                + "decodes to\n\(String(decoding: fromJSON.jsonBytes(), as: UTF8.self))")
        return 1
    }
}

/// Whether `a` and `b` are equal but for bytes inside a `double` or `float` that is a NaN in both
/// (the JSON mapping writes every NaN as "NaN", which decodes to the one quiet NaN).
func sameUpToNaNPayloads(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    func isNaN(_ bytes: [UInt8], at start: Int, width: Int) -> Bool {
        guard start >= 0, start + width <= bytes.count else { return false }
        var bits: UInt64 = 0
        for i in (0..<width).reversed() { bits = bits << 8 | UInt64(bytes[start + i]) }
        return width == 8 ? Double(bitPattern: bits).isNaN : Float(bitPattern: UInt32(bits)).isNaN
    }
    var i = 0
    while i < a.count {
        if a[i] == b[i] { i += 1; continue }
        // A differing byte must lie in a window that is a NaN on both sides; skip past it.
        var end: Int? = nil
        for width in [8, 4] {
            for start in stride(from: i, to: i - width, by: -1)
            where isNaN(a, at: start, width: width) && isNaN(b, at: start, width: width) {
                end = max(end ?? 0, start + width)
            }
        }
        guard let end else { return false }
        i = end
    }
    return true
}
