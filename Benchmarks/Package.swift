// swift-tools-version: 6.1
// swift-otlp benchmarks: our modules side by side with the peers we measure against.
// The peers (swift-protobuf, grpc-swift-2, swift-otel) are dependencies of this package only,
// never of the library. Run: `swift package --package-path Benchmarks benchmark` (package-benchmark
// suites) or the executables: build TransportBench / ExportBench together with BenchPeer (their
// server and sink, run as a separate process) and otlp, then run them from .build/release
// (Benchmarks/README.md has the exact commands).
import PackageDescription

let package = Package(
    name: "swift-otlp-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-otlp", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", exact: "2.9.2"),
        // OTLP/gRPC only: the OTLPHTTP trait would also build AsyncHTTPClient, which no benchmark uses.
        .package(url: "https://github.com/swift-otel/swift-otel", exact: "1.6.0", traits: ["OTLPGRPC"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", exact: "1.7.3"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
    ],
    targets: [
        // swift-protobuf code generated once from ../Protos with protoc + protoc-gen-swift (committed).
        .target(
            name: "SwiftProtobufPeer",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // Raw-byte messages and unary calls of them, for grpc-swift-2 as the peer.
        .target(
            name: "GRPCSwiftPeerSupport",
            dependencies: [.product(name: "GRPCCore", package: "grpc-swift-2")]
        ),
        // The closed loops calls are timed in, for any client (ours, grpc-swift-2's).
        .target(name: "ClosedLoops"),
        // Codec: our generated OTLP types vs swift-protobuf's.
        .executableTarget(
            name: "CodecBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "OTLPProto", package: "swift-otlp"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                "SwiftProtobufPeer",
            ],
            path: "Benchmarks/CodecBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // Pipeline: producer cost of our SDK vs swift-otel.
        .executableTarget(
            name: "PipelineBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "Telemetry", package: "swift-otlp"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            path: "Benchmarks/PipelineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // gRPC unary calls/s into the embedded collector: our client vs grpc-swift-2's.
        .executableTarget(
            name: "CollectorBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "OTLPTesting", package: "swift-otlp"),
                .product(name: "OTLPProto", package: "swift-otlp"),
                .product(name: "HTTP2Transport", package: "swift-otlp"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                "GRPCSwiftPeerSupport",
                "ClosedLoops",
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            path: "Benchmarks/CollectorBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // Transport: raw HTTP/2 POSTs vs h2load on nghttpd; gRPC unary calls vs grpc-swift-2.
        .executableTarget(
            name: "TransportBench",
            dependencies: [
                .product(name: "HTTP2Transport", package: "swift-otlp"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                "GRPCSwiftPeerSupport",
                "ClosedLoops",
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
        // The grpc-swift-2 server the benchmarks run as a separate process: `bench` (TransportBench's
        // unary service) or `sink` (OTLP collector services counting items with OTLPWire).
        .executableTarget(
            name: "BenchPeer",
            dependencies: [
                .product(name: "OTLPProto", package: "swift-otlp"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                "GRPCSwiftPeerSupport",
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
        // End-to-end export: `otlp load` vs swift-otel into the same local sink.
        .executableTarget(
            name: "ExportBench",
            dependencies: [
                .product(name: "Telemetry", package: "swift-otlp"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
