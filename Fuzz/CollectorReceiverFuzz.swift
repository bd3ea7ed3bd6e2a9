// libFuzzer target for the embedded collector's request handling (`OTLPReceiver.handle`): gRPC
// framing with gunzip and OTLP/HTTP protobuf or JSON bodies, decoded with the generated types.
// Built by tools/fuzz.sh against the OTLPTesting module (compiled with -enable-testing).
//
// Input: one byte of options (gRPC, OTLP/HTTP protobuf or JSON; the signal; gzip declared or
// not), then the body. Checked: a request is either accepted (and answered 200, for the signal
// of its path) or rejected (4xx/5xx for OTLP/HTTP, a non-OK grpc-status for gRPC), never both;
// and a collector keeping counts only (validating without decoding) answers the same and counts
// the decoded request's items.
@testable import HTTP2Transport
import HTTPTransportCore
@testable import OTLPTesting

let maxMessageBytes = 4096

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCollectorReceiver(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let options = bytes.first else { return 0 }
    let body = Array(bytes.dropFirst())
    let signal = ["traces", "metrics", "logs"][Int(options & 0x03) % 3]
    let kind = Int(options >> 2 & 0x03) % 3  // 0 gRPC, 1 OTLP/HTTP protobuf, 2 OTLP/HTTP JSON
    let gzip = options & 0x10 != 0
    let request: HTTPServerRequest
    if kind == 0 {
        let service = signal == "traces" ? "trace" : signal
        let path = "/opentelemetry.proto.collector.\(service).v1.\(service.prefix(1).uppercased() + service.dropFirst())Service/Export"
        var headers = [HTTPField("content-type", "application/grpc"), HTTPField("te", "trailers")]
        if gzip { headers.append(HTTPField("grpc-encoding", "gzip")) }
        request = HTTPServerRequest(method: "POST", path: path, headers: headers, body: body)
    } else {
        var headers = [HTTPField("content-type", kind == 1 ? "application/x-protobuf" : "application/json")]
        if gzip { headers.append(HTTPField("content-encoding", "gzip")) }
        request = HTTPServerRequest(method: "POST", path: "/v1/\(signal)", headers: headers, body: body, httpProtocol: .http1)
    }
    let outcome = OTLPReceiver.handle(request, fault: nil, maxMessageBytes: maxMessageBytes)
    let counted = OTLPReceiver.handle(request, fault: nil, maxMessageBytes: maxMessageBytes, countsOnly: true)
    require(counted.rejected == outcome.rejected && counted.response.status == outcome.response.status,
            "counting only answers otherwise: \(counted.response.status) vs \(outcome.response.status)")
    if let accepted = outcome.accepted {
        require(counted.countedItems ?? counted.accepted?.payload.itemCount == accepted.payload.itemCount,
                "counting only counts otherwise")
    }
    require(outcome.signal != nil, "an export path was not recognised: \(request.path)")
    if let accepted = outcome.accepted {
        require(!outcome.rejected, "accepted and rejected")
        require("\(accepted.signal)" == signal, "accepted as \(accepted.signal) on the \(signal) path")
        require(outcome.response.status == 200, "accepted with status \(outcome.response.status)")
    } else {
        require(outcome.rejected, "neither accepted nor rejected")
        if kind == 0 {
            let status = (outcome.response.headers + outcome.response.trailers).first { $0.name == "grpc-status" }?.value
            require(status != nil && status != "0", "gRPC rejection with grpc-status \(status ?? "none")")
        } else {
            require((400...599).contains(outcome.response.status), "OTLP/HTTP rejection with status \(outcome.response.status)")
        }
    }
    return 0
}
