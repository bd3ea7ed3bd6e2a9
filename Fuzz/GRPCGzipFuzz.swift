// libFuzzer target for the gRPC client's reading of a unary response (`GRPCFraming.interpret`:
// status from headers or trailers, the length-prefixed message, gunzip) and for `Gzip` itself.
// Built by tools/fuzz.sh against the whole HTTPTransportCore and HTTP2Transport modules (compiled
// with -enable-testing); the client inflates with zlib (`ZlibGzip`).
//
// Input: one byte of options (HTTP status, where grpc-status is, grpc-encoding, size limit),
// then the response body. Checked:
// - an OK outcome carries at most the limit; an uncompressed message is the body after its
//   prefix; a gunzipped one recompresses and decompresses to itself; other outcomes carry none;
// - `Gzip.decompress` of the body either fails as corrupt or too large, or gives bytes within the
//   limit that survive a compress/decompress round trip;
// - `Gzip.compress` of the body decompresses to the body.
import HTTP2Transport
@testable import HTTPTransportCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGRPCGzip(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let options = bytes.first else { return 0 }
    let body = Array(bytes.dropFirst())
    let limit = options & 0x01 == 0 ? 4096 : 64
    let status = options & 0x02 == 0 ? 200 : [400, 401, 404, 429, 503, 302][Int(options >> 5) % 6]
    let statusInHeaders = options & 0x04 != 0  // a Trailers-Only response
    let encoding = options & 0x08 == 0 ? "gzip" : "identity"
    let grpcStatus = options & 0x10 == 0 ? "0" : String(Int(options >> 5))
    var headers = [HTTPField("content-type", "application/grpc"), HTTPField("grpc-encoding", encoding)]
    let statusFields = [HTTPField("grpc-status", grpcStatus), HTTPField("grpc-message", "a%20b%zz%"),
                        HTTPField("grpc-status-details-bin", "CAMSBm5vIHdheQ")]
    var trailers: [HTTPField] = []
    if statusInHeaders { headers += statusFields } else { trailers = statusFields }

    let response = GRPCFraming.interpret(HTTP2Response(status: status, headers: headers, trailers: trailers, body: body),
                                         maxMessageBytes: limit, gzip: ZlibGzip())
    if response.code == .ok {
        require(response.payload.count <= limit, "OK payload of \(response.payload.count) bytes over the limit \(limit)")
        require(body.count >= 5 && body.count == 5 + (Int(body[1]) << 24 | Int(body[2]) << 16 | Int(body[3]) << 8 | Int(body[4])),
                "OK outcome for a body that is not one whole message")
        if body[0] == 0 {
            require(response.payload == Array(body[5...]), "uncompressed payload differs from the message")
        } else {
            require(body[0] == 1 && encoding == "gzip", "OK outcome for flag \(body[0]) and encoding \(encoding)")
            checkRoundTrip(response.payload)
        }
        require(response.message == "a b%zz%", "grpc-message decoded as '\(response.message)'")
    } else {
        require(response.payload.isEmpty, "\(response.code) outcome with a payload")
    }

    do throws(GzipError) {
        let inflated = try Gzip.decompress(body, limit: limit)
        require(inflated.count <= limit, "decompressed \(inflated.count) bytes over the limit \(limit)")
        checkRoundTrip(inflated)
    } catch {
        require(error.kind == .corrupt || error.kind == .tooLarge, "decompress failed with \(error)")
    }
    checkRoundTrip(body)
    return 0
}

func checkRoundTrip(_ bytes: [UInt8]) {
    do throws(GzipError) {
        let compressed = try Gzip.compress(bytes)
        require(try Gzip.decompress(compressed, limit: bytes.count) == bytes, "compress/decompress changes \(bytes.count) bytes")
    } catch {
        fatalError("round trip of \(bytes.count) bytes failed: \(error)")
    }
}
