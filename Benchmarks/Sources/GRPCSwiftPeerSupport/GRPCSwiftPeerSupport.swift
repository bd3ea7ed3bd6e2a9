// What the benchmarks share to drive grpc-swift-2 as the peer: raw-byte messages and the closed
// loop of unary calls they time.
public import GRPCCore

/// Passes messages as the bytes they are (the benchmarks send pre-encoded requests).
public struct RawSerializer: MessageSerializer, MessageDeserializer {
    public init() {}
    public func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
    public func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] {
        bytes.withUnsafeBytes { Array($0) }
    }
}

extension GRPCClient {
    /// One unary call of `method` with `message`; whether a response message came back.
    public func rawUnaryCall(_ method: MethodDescriptor, message: [UInt8], timeout: Duration) async -> Bool {
        var options = CallOptions.defaults
        options.timeout = timeout
        do {
            return try await unary(request: ClientRequest(message: message), descriptor: method,
                                   serializer: RawSerializer(), deserializer: RawSerializer(), options: options) { response in
                (try? response.message) != nil
            }
        } catch {
            return false
        }
    }
}

/// `count` calls from `inFlight` tasks, each making its share one after the other; the failures.
public func runClosedLoop(_ count: Int, inFlight: Int, _ call: @escaping @Sendable () async -> Bool) async -> Int {
    await withTaskGroup(of: Int.self) { group in
        for worker in 0..<inFlight {
            let share = count / inFlight + (worker < count % inFlight ? 1 : 0)
            group.addTask {
                var failures = 0
                for _ in 0..<share where !(await call()) { failures += 1 }
                return failures
            }
        }
        return await group.reduce(0, +)
    }
}
