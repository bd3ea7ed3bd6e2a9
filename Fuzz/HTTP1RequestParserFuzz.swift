// libFuzzer target for the server's HTTP/1.1 request parser and protocol detection. Built by
// tools/fuzz.sh from the parser's own source files (the parser is internal to HTTP2Transport).
// Each input is fed in chunks whose sizes come from its first byte; every event is checked
// against the parser's limits.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1RequestParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let first = bytes.first else { return 0 }
    let chunk = Int(first % 16) + 1
    let input = Array(bytes.dropFirst())
    _ = input.withUnsafeBytes { ServerProtocolDetection.detect($0) }
    var parser = HTTP1RequestParser(maxHeaderBytes: 512, maxBodyBytes: 1024)
    var offset = 0
    var requests = 0
    outer: while offset < input.count {
        let end = min(input.count, offset + chunk)
        parser.feed(Array(input[offset..<end]))
        offset = end
        while true {
            do throws(HTTP1RequestError) {
                guard let event = try parser.next() else { break }
                if case .request(let request) = event {
                    precondition(request.body.count <= 1024, "body over the limit")
                    requests += 1
                }
            } catch {
                precondition([400, 413, 431, 501, 505].contains(error.status), "unexpected status \(error.status)")
                break outer
            }
        }
    }
    return requests > Int32.max ? 1 : 0
}
