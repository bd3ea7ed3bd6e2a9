// libFuzzer target for the OTLP/JSON decoder (`JSONValue.parse` and the generated `mergeJSON`)
// on the three OTLP export requests. Built by tools/fuzz.sh like the protobuf target.
//
// Each input is decoded as a trace, a metrics and a logs request. For each that decodes:
// - our JSON of it decodes to the same message and is written the same again (stable);
// - its binary encoding decodes to a message with the same JSON.
import OTLPProto

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    // Nesting limit lower than the default so deep inputs reach it within -max_len.
    let options = ProtoDecodingOptions(maxDepth: 24)
    var decoded = 0
    decoded += check(CollectorTraceV1ExportTraceServiceRequest.self, input, options)
    decoded += check(CollectorMetricsV1ExportMetricsServiceRequest.self, input, options)
    decoded += check(CollectorLogsV1ExportLogsServiceRequest.self, input, options)
    return decoded > 3 ? 1 : 0
}

private func check<M: JSONMessage>(_ type: M.Type, _ input: [UInt8], _ options: ProtoDecodingOptions) -> Int {
    let message: M
    do throws(ProtoDecodingError) { message = try M(jsonBytes: input, options: options) } catch {
        require([.invalidJSON, .invalidUTF8, .depthLimitExceeded].contains(error.code),
                "\(M.self): unexpected error code for JSON: \(error)")
        return 0
    }
    let json = message.jsonBytes()
    let bytes = message.serializedBytes()
    require(message.serializedSize == bytes.count, "\(M.self): serializedSize disagrees with the encoding")
    let again: M
    do throws(ProtoDecodingError) { again = try M(jsonBytes: json) } catch {
        fatalError("\(M.self): our own JSON does not decode: \(error)\n\(String(decoding: json, as: UTF8.self))")
    }
    require(again.jsonBytes() == json, "\(M.self): JSON → message → JSON is not stable\n"
            + "\(String(decoding: json, as: UTF8.self))\nthen\n\(String(decoding: again.jsonBytes(), as: UTF8.self))")
    require(again.serializedBytes() == bytes, "\(M.self): our JSON decodes to another message\n"
            + "\(String(decoding: json, as: UTF8.self))")
    let fromBinary: M
    do throws(ProtoDecodingError) { fromBinary = try M(serializedBytes: bytes) } catch {
        fatalError("\(M.self): our own encoding does not decode: \(error)")
    }
    require(fromBinary.jsonBytes() == json, "\(M.self): the binary round trip changes the JSON\n"
            + "\(String(decoding: json, as: UTF8.self))\nthen\n\(String(decoding: fromBinary.jsonBytes(), as: UTF8.self))")
    return 1
}
