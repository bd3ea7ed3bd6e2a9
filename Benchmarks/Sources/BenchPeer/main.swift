// BenchPeer: the grpc-swift-2 server (grpc-swift-nio-transport, h2c) that the benchmarks measure
// clients against, run as its own process so the server never shares the measured client's
// process (its CPU seconds and its threads).
//
//   BenchPeer bench [--port N]   /bench.Bench/Call: reads the request, answers 16 bytes
//                                (TransportBench (b)).
//   BenchPeer sink  [--port N]   the three OTLP collector services: counts requests, bytes and
//                                items (spans, log records, metric data points) by scanning each
//                                request's protobuf with OTLPWire's bounds-checked ProtoReader, no
//                                decoding into messages (ExportBench's sink). A request that does
//                                not parse is answered INVALID_ARGUMENT and counted as malformed.
//
// Both print `{"listening": PORT}` once ready; the sink prints
// `{"sink": {"requests": N, "bytes": N, "items": N, "malformed": N}}` every 100 ms when it changes
// (the same lines as tools/peers/fault_collector.py --sink). Both servers advertise a 16 MiB HTTP/2
// window and accept requests up to 64 MiB, so no client is bound by the server's window.
import Foundation
import GRPCCore
import GRPCSwiftPeerSupport
import GRPCNIOTransportHTTP2
import OTLPProto
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Writes one line to stdout at once (unbuffered: the reader waits for it).
func emit(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { return }
        offset += n
    }
}

/// Discards the request bytes without copying them.
struct DiscardingDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> Int { bytes.withUnsafeBytes { $0.count } }
}

/// Answers every call with a 16-byte message (like a small export response).
struct BenchService: RegistrableRPCService {
    static let method = MethodDescriptor(fullyQualifiedService: "bench.Bench", method: "Call")
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(forMethod: Self.method, deserializer: DiscardingDeserializer(), serializer: RawSerializer()) { request, _ in
            for try await _ in request.messages {}
            return StreamingServerResponse(single: ServerResponse(message: [UInt8](repeating: 1, count: 16)))
        }
    }
}

// MARK: - OTLP counting sink

/// What one export request held.
struct Counted: Sendable {
    var bytes: Int
    var items: Int
    var valid: Bool
}

enum OTLPSignal: Sendable { case traces, metrics, logs }

/// Counts the items of an Export*ServiceRequest by walking only the nesting that leads to them:
/// request.1 (resource_*) → .2 (scope_*) → .2 (spans / metrics / log_records); for metrics each
/// metric's data points (gauge 5, sum 7, histogram 9, exponential_histogram 10, summary 11 → .1).
enum ItemCounter {
    static func count(_ bytes: UnsafeRawBufferPointer, signal: OTLPSignal) throws(ProtoDecodingError) -> Int {
        var reader = ProtoReader(bytes)
        var items = 0
        while let tag = try reader.nextTag() {
            guard tag == fieldTag(1) else { try reader.skip(tag: tag); continue }
            var resource = ProtoReader(try reader.readLengthDelimited())
            while let tag = try resource.nextTag() {
                guard tag == fieldTag(2) else { try resource.skip(tag: tag); continue }
                var scope = ProtoReader(try resource.readLengthDelimited())
                while let tag = try scope.nextTag() {
                    guard tag == fieldTag(2) else { try scope.skip(tag: tag); continue }
                    let item = try scope.readLengthDelimited()
                    if signal == .metrics { items += try dataPoints(item) } else { items += 1 }
                }
            }
        }
        return items
    }

    static func dataPoints(_ metric: UnsafeRawBufferPointer) throws(ProtoDecodingError) -> Int {
        var reader = ProtoReader(metric)
        var points = 0
        while let tag = try reader.nextTag() {
            switch tag {
            case fieldTag(5), fieldTag(7), fieldTag(9), fieldTag(10), fieldTag(11):
                var data = ProtoReader(try reader.readLengthDelimited())
                while let tag = try data.nextTag() {
                    if tag == fieldTag(1) { _ = try data.readLengthDelimited(); points += 1 } else { try data.skip(tag: tag) }
                }
            default:
                try reader.skip(tag: tag)
            }
        }
        return points
    }

    @inline(__always) static func fieldTag(_ number: UInt32) -> UInt32 { number << 3 | ProtoWireType.lengthDelimited }
}

struct CountingDeserializer: MessageDeserializer {
    let signal: OTLPSignal
    func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> Counted {
        bytes.withUnsafeBytes { buffer in
            do {
                return Counted(bytes: buffer.count, items: try ItemCounter.count(buffer, signal: signal), valid: true)
            } catch {
                return Counted(bytes: buffer.count, items: 0, valid: false)
            }
        }
    }
}

final class SinkCounters: Sendable {
    let requests = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)
    let items = Atomic<Int>(0)
    let malformed = Atomic<Int>(0)
}

struct SinkService: RegistrableRPCService {
    let counters: SinkCounters

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let services: [(String, OTLPSignal)] = [
            ("opentelemetry.proto.collector.trace.v1.TraceService", .traces),
            ("opentelemetry.proto.collector.metrics.v1.MetricsService", .metrics),
            ("opentelemetry.proto.collector.logs.v1.LogsService", .logs),
        ]
        for (service, signal) in services {
            let counters = self.counters
            router.registerHandler(forMethod: MethodDescriptor(fullyQualifiedService: service, method: "Export"),
                                   deserializer: CountingDeserializer(signal: signal), serializer: RawSerializer()) { request, _ in
                for try await counted in request.messages {
                    guard counted.valid else {
                        counters.malformed.add(1, ordering: .relaxed)
                        throw RPCError(code: .invalidArgument, message: "request does not parse as protobuf")
                    }
                    counters.requests.add(1, ordering: .relaxed)
                    counters.bytes.add(counted.bytes, ordering: .relaxed)
                    counters.items.add(counted.items, ordering: .relaxed)
                }
                // An empty Export*ServiceResponse (no partial success).
                return StreamingServerResponse(single: ServerResponse(message: []))
            }
        }
    }
}

// MARK: - main

let arguments = CommandLine.arguments
let mode = arguments.count > 1 ? arguments[1] : "sink"
var port = 0
if let i = arguments.firstIndex(of: "--port"), i + 1 < arguments.count { port = Int(arguments[i + 1]) ?? 0 }
guard mode == "sink" || mode == "bench" else {
    FileHandle.standardError.write(Data("usage: BenchPeer sink|bench [--port N]\n".utf8))
    exit(2)
}

let counters = SinkCounters()
let config = HTTP2ServerTransport.Posix.Config.defaults { config in
    config.http2.targetWindowSize = 16 << 20
    config.http2.maxFrameSize = 1 << 20
    config.rpc.maxRequestPayloadSize = 64 << 20
}
let server = GRPCServer(
    transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext, config: config),
    services: mode == "bench" ? [BenchService()] : [SinkService(counters: counters)])

try await withThrowingDiscardingTaskGroup { group in
    group.addTask { try await server.serve() }
    guard let bound = try await server.transport.listeningAddress.ipv4?.port else {
        throw RPCError(code: .internalError, message: "no listening port")
    }
    emit("{\"listening\": \(bound)}")
    if mode == "sink" {
        group.addTask {
            var last = (-1, -1, -1, -1)
            while true {
                try await Task.sleep(for: .milliseconds(100))
                let now = (counters.requests.load(ordering: .relaxed), counters.bytes.load(ordering: .relaxed),
                           counters.items.load(ordering: .relaxed), counters.malformed.load(ordering: .relaxed))
                if now != last {
                    emit("{\"sink\": {\"requests\": \(now.0), \"bytes\": \(now.1), \"items\": \(now.2), \"malformed\": \(now.3)}}")
                    last = now
                }
            }
        }
    }
}
