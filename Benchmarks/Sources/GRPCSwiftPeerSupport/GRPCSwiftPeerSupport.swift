// What the benchmarks share to drive grpc-swift-2 as the peer: raw-byte messages and unary calls
// of them (timed in the loops of ClosedLoops).
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
