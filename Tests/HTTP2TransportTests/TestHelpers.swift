import Foundation
import HTTP2Transport
import HTTPTransportCore
import OTLPTestSupport

/// Minimal protobuf writer for test requests (the codec lives in another module).
enum TestProto {
    static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    static func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        varint(UInt64(number << 3 | 2), into: &out)
        varint(UInt64(bytes.count), into: &out)
        return out + bytes
    }

    /// An ExportTraceServiceRequest with one resource, one scope and `spans` spans named "span-i".
    static func traceRequest(spans: Int, nameSize: Int = 8) -> [UInt8] {
        var scopeSpans: [UInt8] = []
        for i in 0..<spans {
            var span = field(1, [UInt8](repeating: UInt8(i & 0xFF) | 1, count: 16))
            span += field(2, [UInt8](repeating: 2, count: 8))
            span += field(5, Array("span-\(i)-".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: nameSize))
            scopeSpans += field(2, span)
        }
        return field(1, field(2, scopeSpans))
    }
}

extension GRPCResponse {
    func trailer(_ name: String) -> String? { trailers.first { $0.name == name }?.value }
    func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
}

let tracePath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

/// Elapsed seconds of `body`.
func measure<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try await body()
    let elapsed = ContinuousClock.now - start
    return (value, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// Starts a callback-based call and returns its result with the seconds until the callback ran.
/// The end is stamped on the thread that completes the call (the transport's I/O thread), so a
/// busy cooperative pool delaying the awaiting task's resumption does not count against the
/// deadline under test.
func timedCall<T: Sendable>(_ start: (@escaping @Sendable (T) -> Void) -> Void) async -> (T, Double) {
    let began = ContinuousClock.now
    let (value, ended) = await withCheckedContinuation { (continuation: CheckedContinuation<(T, ContinuousClock.Instant), Never>) in
        start { continuation.resume(returning: ($0, ContinuousClock.now)) }
    }
    let elapsed = ended - began
    return (value, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// Sends `request` and returns the outcome with the seconds until the transport completed it.
func timedExecute(_ transport: any HTTPTransport, _ request: HTTP2Request) async -> (Result<HTTP2Response, TransportError>, Double) {
    await timedCall { done in transport.execute(request) { done($0) } }
}

func h2cConfiguration(port: UInt16, _ adjust: (inout HTTP2ClientConfiguration) -> Void = { _ in }) -> HTTP2ClientConfiguration {
    var configuration = HTTP2ClientConfiguration(endpoint: Endpoint(host: "127.0.0.1", port: port, useTLS: false))
    configuration.connectTimeout = .seconds(3)
    adjust(&configuration)
    return configuration
}

/// Runs blocking work (starting a peer process, joining a connection thread) on its own thread,
/// so it never blocks the small cooperative thread pool that resumes the timed calls.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
