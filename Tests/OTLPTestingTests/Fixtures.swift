// Requests built from the generated types, and a raw TCP client for hostile-client tests.
import Foundation
import OTLPProto
#if canImport(Glibc)
import Glibc
#endif

enum Fixtures {
    static func resource(_ service: String = "tests") -> ResourceV1Resource {
        ResourceV1Resource(attributes: [CommonV1KeyValue(key: "service.name", value: CommonV1AnyValue(value: .stringValue(service)))])
    }

    static func scope() -> CommonV1InstrumentationScope {
        var scope = CommonV1InstrumentationScope()
        scope.name = "otlp-testing-tests"
        scope.version = "1.0"
        return scope
    }

    static func traces(_ names: [String], service: String = "tests") -> CollectorTraceV1ExportTraceServiceRequest {
        var scopeSpans = TraceV1ScopeSpans()
        scopeSpans.scope = scope()
        for (index, name) in names.enumerated() {
            var span = TraceV1Span()
            span.traceId = (0..<16).map { UInt8(truncatingIfNeeded: $0 &+ index &+ 1) }
            span.spanId = (0..<8).map { UInt8(truncatingIfNeeded: $0 &* 3 &+ index &+ 1) }
            span.name = name
            span.kind = .server
            span.startTimeUnixNano = 1_700_000_000_000_000_000
            span.endTimeUnixNano = 1_700_000_000_000_500_000
            span.attributes = [CommonV1KeyValue(key: "index", value: CommonV1AnyValue(value: .intValue(Int64(index))))]
            scopeSpans.spans.append(span)
        }
        var resourceSpans = TraceV1ResourceSpans()
        resourceSpans.resource = resource(service)
        resourceSpans.scopeSpans = [scopeSpans]
        var request = CollectorTraceV1ExportTraceServiceRequest()
        request.resourceSpans = [resourceSpans]
        return request
    }

    static func metrics(name: String, values: [Int64]) -> CollectorMetricsV1ExportMetricsServiceRequest {
        var sum = MetricsV1Sum()
        sum.aggregationTemporality = .cumulative
        sum.isMonotonic = true
        for value in values {
            var point = MetricsV1NumberDataPoint()
            point.timeUnixNano = 1_700_000_000_000_000_000
            point.value = .asInt(value)
            sum.dataPoints.append(point)
        }
        var metric = MetricsV1Metric()
        metric.name = name
        metric.unit = "1"
        metric.data = .sum(sum)
        var scopeMetrics = MetricsV1ScopeMetrics()
        scopeMetrics.scope = scope()
        scopeMetrics.metrics = [metric]
        var resourceMetrics = MetricsV1ResourceMetrics()
        resourceMetrics.resource = resource()
        resourceMetrics.scopeMetrics = [scopeMetrics]
        var request = CollectorMetricsV1ExportMetricsServiceRequest()
        request.resourceMetrics = [resourceMetrics]
        return request
    }

    static func logs(_ bodies: [String]) -> CollectorLogsV1ExportLogsServiceRequest {
        var scopeLogs = LogsV1ScopeLogs()
        scopeLogs.scope = scope()
        for body in bodies {
            var record = LogsV1LogRecord()
            record.timeUnixNano = 1_700_000_000_000_000_000
            record.severityNumber = .info
            record.body = CommonV1AnyValue(value: .stringValue(body))
            scopeLogs.logRecords.append(record)
        }
        var resourceLogs = LogsV1ResourceLogs()
        resourceLogs.resource = resource()
        resourceLogs.scopeLogs = [scopeLogs]
        var request = CollectorLogsV1ExportLogsServiceRequest()
        request.resourceLogs = [resourceLogs]
        return request
    }

    static func grpcFrame(_ message: [UInt8], compressed: Bool = false) -> [UInt8] {
        let count = UInt32(message.count)
        return [compressed ? 1 : 0, UInt8(truncatingIfNeeded: count >> 24), UInt8(truncatingIfNeeded: count >> 16),
                UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count)] + message
    }
}

/// Runs blocking work (a socket read, a child process) on a thread of its own: blocking a thread
/// of the cooperative pool would stall the other tests running beside it.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// A blocking TCP client with a receive timeout, for speaking raw bytes to the server. Its
/// async reads run off the cooperative pool.
final class RawClient: @unchecked Sendable {
    let fd: Int32

    init(port: UInt16, receiveTimeout: Double = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawClientError(description: "socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(fd); throw RawClientError(description: "connect failed: \(errno)") }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - Double(Int(receiveTimeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    /// Sends all bytes; false when the peer has closed.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads until the peer closes, the timeout passes, or `until` says enough.
    func receive(until done: ([UInt8]) -> Bool = { _ in false }) -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return (received, true) }
            if n < 0 { return (received, errno == ECONNRESET) }
            received += buffer[0..<n]
            if done(received) { return (received, false) }
        }
    }

    /// Reads one HTTP/1.1 response with a Content-Length body.
    func receiveHTTP1Response() -> (status: Int, head: String, body: [UInt8])? {
        let result = receive { bytes in
            guard let end = Self.headEnd(bytes) else { return false }
            let head = String(decoding: bytes[0..<end], as: UTF8.self).lowercased()
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            return bytes.count >= end + 4 + length
        }
        guard let end = Self.headEnd(result.bytes) else { return nil }
        let head = String(decoding: result.bytes[0..<end], as: UTF8.self)
        let parts = head.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        return (status, head, Array(result.bytes[(end + 4)...]))
    }

    /// Whether the server closes the connection (reading and discarding until then, or the timeout).
    func closedByServer() async throws -> Bool {
        try await offPool { self.receive().closed }
    }

    /// The bytes until the server closes the connection, and whether it did.
    func receiveUntilClosed() async throws -> (bytes: [UInt8], closed: Bool) {
        try await offPool { self.receive() }
    }

    func response() async throws -> (status: Int, head: String, body: [UInt8])? {
        try await offPool { self.receiveHTTP1Response() }
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }
}

struct RawClientError: Error, CustomStringConvertible { var description: String }

/// An HTTP/1.1 POST as bytes.
func http1Post(path: String, contentType: String, body: [UInt8], extraHeaders: [String] = []) -> [UInt8] {
    var head = "POST \(path) HTTP/1.1\r\nhost: localhost\r\ncontent-type: \(contentType)\r\ncontent-length: \(body.count)\r\n"
    for header in extraHeaders { head += header + "\r\n" }
    head += "\r\n"
    return Array(head.utf8) + body
}
