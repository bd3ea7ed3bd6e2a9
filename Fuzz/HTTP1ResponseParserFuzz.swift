// libFuzzer target for the HTTP/1.1 client's response parser. Built by tools/fuzz.sh from the
// parser's own source files (the parser is internal to HTTP2Transport) and HTTPTransportCore.
//
// The first byte gives the chunk size the rest is fed in and whether the request was a HEAD.
// Checked: a response respects the limits (status 200-999, body within `maxBodyBytes`); errors
// have one of the documented codes; and feeding in chunks gives the same outcome (the same
// response, or an error of the same code) as feeding the whole input at once.
import HTTPTransportCore

let maxHeaderBytes = 512
let maxBodyBytes = 1024

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1ResponseParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let first = bytes.first else { return 0 }
    let chunk = Int(first & 0x3F) + 1
    let isHead = first & 0x40 != 0
    let atEOF = first & 0x80 != 0
    let input = Array(bytes.dropFirst())
    let whole = parse(input, chunk: max(input.count, 1), isHead: isHead, atEOF: atEOF)
    let chunked = parse(input, chunk: chunk, isHead: isHead, atEOF: atEOF)
    require(whole == chunked, "fed whole: \(whole); fed \(chunk) bytes at a time: \(chunked)")
    return 0
}

enum Outcome: Equatable, CustomStringConvertible {
    case incomplete
    case response(status: Int, headers: [HTTPField], body: [UInt8], closeAfter: Bool)
    case failed(TransportError.Code)

    var description: String {
        switch self {
        case .incomplete: "incomplete"
        case .response(let status, let headers, let body, let close):
            "response \(status) \(headers) body \(body.count) bytes\(close ? ", close" : "")"
        case .failed(let code): "error \(code)"
        }
    }
}

func parse(_ input: [UInt8], chunk: Int, isHead: Bool, atEOF: Bool) -> Outcome {
    var parser = HTTP1ResponseParser(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes, isHeadRequest: isHead)
    var offset = 0
    do throws(TransportError) {
        while offset < input.count {
            let end = min(input.count, offset + chunk)
            let response = try parser.feed(Array(input[offset..<end]))
            offset = end
            if let response { return outcome(response, parser) }
        }
        guard atEOF else { return .incomplete }
        return outcome(try parser.finishAtEOF(), parser)
    } catch {
        require([.protocolError, .responseTooLarge, .headerListTooLarge, .connectionClosed].contains(error.code),
                "unexpected error \(error)")
        return .failed(error.code)
    }
}

func outcome(_ response: HTTP2Response, _ parser: HTTP1ResponseParser) -> Outcome {
    require((200...999).contains(response.status), "status \(response.status)")
    require(response.body.count <= maxBodyBytes, "body of \(response.body.count) bytes over the limit")
    require(response.trailers.isEmpty, "HTTP/1.1 trailers are not reported")
    return .response(status: response.status, headers: response.headers, body: response.body, closeAfter: parser.closeAfter)
}
