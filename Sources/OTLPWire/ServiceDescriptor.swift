/// A gRPC method of a proto service: its names and its request and response message types.
public struct ProtoMethodDescriptor<Input: ProtoMessage, Output: ProtoMessage>: Sendable, Hashable {
    /// Fully qualified service name (`opentelemetry.proto.collector.trace.v1.TraceService`).
    public let service: String
    /// Method name (`Export`).
    public let method: String

    public init(service: String, method: String) {
        self.service = service
        self.method = method
    }

    /// The HTTP/2 `:path` of the method: `/<service>/<method>`.
    public var path: String { "/\(service)/\(method)" }
}
