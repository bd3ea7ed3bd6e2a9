// libFuzzer target for the HTTP/2 client's receive path: the input is what the server sends,
// fed into a client `HTTP2Connection`'s nghttp2 session with the connection's own callbacks and
// state machine (no socket, no thread: `startWithoutSocket` / `receiveWithoutSocket`). Built by
// tools/fuzz.sh against the whole HTTP2Transport module (compiled with -enable-testing).
//
// Input: one byte of options (how many requests, the chunk size the rest is fed in, whether
// requests have a body), then the server's bytes. Checked: every request completes exactly once;
// a response has a valid status, a body within `maxResponseBodyBytes` and a header list within
// `maxHeaderListBytes`; a failure has one of the codes a peer can cause.
@testable import HTTP2Transport
import HTTPTransportCore

let maxBody = 256
let maxHeaderList = 512

final class Completions: @unchecked Sendable {
    // The completions run synchronously on this thread (the fuzzer's), never concurrently.
    var results: [Int: [Result<HTTP2Response, TransportError>]] = [:]
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP2Client(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let options = bytes.first else { return 0 }
    let requestCount = Int(options & 0x03) + 1
    let chunk = options & 0x40 != 0 ? Int(options >> 2 & 0x0F) + 1 : Int.max
    let requestBody: [UInt8] = options & 0x80 != 0 ? Array(repeating: 0x61, count: 100) : []
    let input = Array(bytes.dropFirst())

    let configuration = HTTP2ClientConfiguration(
        endpoint: Endpoint(host: "collector.invalid", port: 4317, useTLS: false), maxConcurrentStreams: 2,
        maxResponseBodyBytes: maxBody, maxHeaderListBytes: maxHeaderList)
    let connection: HTTP2Connection
    do throws(TransportError) { connection = try HTTP2Connection(configuration: configuration, tlsContext: nil) } catch {
        fatalError("connection: \(error)")
    }
    let completions = Completions()
    for index in 0..<requestCount {
        let request = HTTP2Request(path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                   headers: [HTTPField("content-type", "application/grpc")], body: requestBody)
        let accepted = connection.submit(request) { result in completions.results[index, default: []].append(result) }
        require(accepted, "request \(index) not accepted")
    }
    let failure: TransportError? = input.withUnsafeBytes { server in
        do throws(TransportError) {
            try connection.startWithoutSocket()
            var offset = 0
            repeat {
                let end = offset + min(chunk, server.count - offset)
                _ = try connection.receiveWithoutSocket(UnsafeRawBufferPointer(rebasing: server[offset..<end]))
                offset = end
            } while offset < server.count
            return nil
        } catch {
            return error
        }
    }
    connection.closeWithoutSocket(failure)

    for index in 0..<requestCount {
        let results = completions.results[index] ?? []
        require(results.count == 1, "request \(index) completed \(results.count) times")
        switch results[0] {
        case .success(let response):
            require((200...999).contains(response.status), "status \(response.status)")
            require(response.body.count <= maxBody, "body of \(response.body.count) bytes over \(maxBody)")
            let headerBytes = (response.headers + response.trailers).reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 }
            require(headerBytes <= maxHeaderList, "header list of \(headerBytes) bytes over \(maxHeaderList)")
        case .failure(let error):
            require([.protocolError, .connectionClosed, .goAway, .streamReset, .responseTooLarge, .headerListTooLarge,
                     .internalError].contains(error.code), "request \(index) failed with \(error)")
        }
    }
    return 0
}
