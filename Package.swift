// swift-tools-version: 6.1
// swift-otlp: OpenTelemetry export over OTLP/gRPC (HTTP/2) and OTLP/HTTP.
// Module layering is described in ARCHITECTURE.md; each target imports only those below it.
import PackageDescription

/// Library modules import internally unless a file says `public import`: what a module's API
/// exposes of another is stated where it happens.
let internalImports: [SwiftSetting] = [.enableUpcomingFeature("InternalImportsByDefault")]

let package = Package(
    name: "swift-otlp",
    platforms: [.macOS(.v15)],
    products: [
        // What a service imports: the API and SDK (`Telemetry`, which re-exports the data model of
        // `TelemetryCore`), sessions and the metrics client (`TelemetrySession`), and the OTLP
        // exporters' configuration (`OTLPExporter`); `TelemetryPipeline` (the rings, the span pool
        // and the worker beneath the SDK) for measuring them alone, as `Benchmarks/` does.
        .library(name: "Telemetry", targets: ["Telemetry", "TelemetrySession", "OTLPExporter", "TelemetryPipeline"]),
        // The embedded OTLP collector for tests.
        .library(name: "OTLPTesting", targets: ["OTLPTesting"]),
        // Lower layers with a use of their own: the generated OTLP messages and their codec (a
        // proxy, a collector of your own; `OTLPProto` re-exports `OTLPWire`), and the HTTP/2 +
        // HTTP/1.1 client and server (`HTTPTransportCore`'s protocol and gRPC framing, the
        // nghttp2/OpenSSL implementation). `Benchmarks/` measures both against their peers.
        .library(name: "OTLPProto", targets: ["OTLPProto"]),
        .library(name: "HTTP2Transport", targets: ["HTTPTransportCore", "HTTP2Transport"]),
        .executable(name: "otlp", targets: ["otlp"]),
        .executable(name: "protogen", targets: ["protogen"]),
        .plugin(name: "ProtoGenPlugin", targets: ["ProtoGenPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-atomics", exact: "1.3.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", exact: "1.7.3"),
        .package(url: "https://github.com/apple/swift-service-context", exact: "1.5.1"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
    ],
    targets: [
        // MARK: Generator (build tool)
        .target(name: "ProtoGenCore", swiftSettings: internalImports),
        .executableTarget(name: "protogen", dependencies: ["ProtoGenCore"]),
        .plugin(name: "ProtoGenPlugin", capability: .buildTool(), dependencies: ["protogen"]),

        // MARK: Codec
        .target(name: "OTLPWire", dependencies: ["OTLPSync"], swiftSettings: internalImports),
        .target(
            name: "OTLPProto",
            dependencies: ["OTLPWire"],
            exclude: ["Protos/README.md"],
            swiftSettings: internalImports,
            plugins: [.plugin(name: "ProtoGenPlugin")]
        ),

        // MARK: C system libraries (imported by HTTP2Transport only)
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // MARK: Locking visible to ThreadSanitizer (used off the hot path)
        .target(name: "OTLPSync", swiftSettings: internalImports),

        // MARK: Transport
        // The transport boundary in Swift only (protocol, requests, errors, gRPC unary calls); the
        // implementation on nghttp2, OpenSSL and zlib below it.
        .target(name: "HTTPTransportCore", swiftSettings: internalImports),
        .target(name: "HTTP2Transport", dependencies: ["CNGHTTP2", "COpenSSL", "CZlib", "HTTPTransportCore", "OTLPSync"], swiftSettings: internalImports),

        // MARK: SDK core (data model, ids, clocks, exporter protocols, configuration; no wire format)
        // C for the core and the pipeline: the cycle counter behind the clock (an inline read, a
        // CPUID check), the per-thread id counter, and cache prefetches for span blocks.
        .target(name: "CPipelineSupport"),
        .target(
            name: "TelemetryCore",
            dependencies: ["OTLPSync", "CPipelineSupport", .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: internalImports
        ),

        // MARK: Pipeline
        .target(
            name: "TelemetryPipeline",
            dependencies: ["TelemetryCore", "OTLPSync", "CPipelineSupport", .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: internalImports
        ),

        // MARK: Export
        .target(name: "OTLPExporter", dependencies: ["OTLPProto", "OTLPWire", "HTTPTransportCore", "HTTP2Transport", "TelemetryCore", "TelemetryPipeline", "OTLPSync"], swiftSettings: internalImports),

        // MARK: Public API (named Telemetry: swift-otel already owns the module name OTel)
        .target(
            name: "Telemetry",
            dependencies: [
                "OTLPProto", "TelemetryCore", "TelemetryPipeline", "OTLPExporter", "OTLPSync",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: internalImports
        ),

        // MARK: Application layer above the SDK (codex-otel's sessions, metrics client, settings wiring)
        .target(
            name: "TelemetrySession",
            dependencies: [
                "Telemetry", "TelemetryCore", "TelemetryPipeline", "OTLPExporter", "OTLPSync",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: internalImports
        ),

        // MARK: Embedded collector for tests (receivers, decoded views, scripted faults)
        .target(name: "OTLPTesting", dependencies: ["OTLPProto", "OTLPWire", "HTTPTransportCore", "HTTP2Transport", "OTLPSync"], swiftSettings: internalImports),

        // MARK: Command-line tool
        .executableTarget(
            name: "otlp",
            dependencies: [
                "Telemetry", "TelemetrySession", "TelemetryCore", "TelemetryPipeline", "OTLPExporter", "OTLPProto", "OTLPWire", "HTTPTransportCore", "HTTP2Transport", "OTLPSync", "OTLPTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Test support (peer launchers, fixtures)
        .target(name: "OTLPTestSupport", dependencies: ["OTLPProto", "HTTPTransportCore", "OTLPSync"]),

        // MARK: Tests
        .testTarget(name: "ProtoGenCoreTests", dependencies: ["ProtoGenCore"], exclude: ["Golden"]),
        .testTarget(name: "OTLPWireTests", dependencies: ["OTLPWire"]),
        .testTarget(name: "OTLPProtoTests", dependencies: ["OTLPProto", "OTLPTestSupport", "ProtoGenCore"], exclude: ["Golden"]),
        .testTarget(name: "HTTPTransportCoreTests", dependencies: ["HTTPTransportCore", "OTLPTestSupport"]),
        .testTarget(name: "HTTP2TransportTests", dependencies: ["HTTP2Transport", "HTTPTransportCore", "OTLPTestSupport", "OTLPSync"]),
        .testTarget(name: "TelemetryCoreTests", dependencies: ["TelemetryCore", "OTLPSync"]),
        .testTarget(name: "TelemetryPipelineTests", dependencies: ["TelemetryCore", "TelemetryPipeline", "OTLPTestSupport", "OTLPSync"]),
        .testTarget(
            name: "OTLPExporterTests",
            dependencies: ["OTLPExporter", "Telemetry", "TelemetryCore", "TelemetryPipeline", "OTLPTestSupport", "OTLPSync", "OTLPTesting", "OTLPProto", "HTTPTransportCore", "HTTP2Transport"]
        ),
        .testTarget(
            name: "TelemetryTests",
            dependencies: [
                "Telemetry", "TelemetrySession", "OTLPTestSupport", "HTTP2Transport", "OTLPProto", "OTLPWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "TelemetrySessionTests",
            dependencies: [
                "TelemetrySession", "Telemetry", "OTLPTestSupport", "HTTPTransportCore", "OTLPProto", "OTLPWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "OTLPTestingTests",
            dependencies: ["OTLPTesting", "OTLPExporter", "Telemetry", "TelemetryCore", "TelemetryPipeline", "HTTPTransportCore", "HTTP2Transport", "OTLPProto", "OTLPTestSupport", "OTLPSync"]
        ),
        .testTarget(name: "CLITests", dependencies: ["OTLPTestSupport", "OTLPProto", "HTTPTransportCore", "HTTP2Transport", "OTLPTesting"]),
        // Run by TelemetryTests in a process of its own: it blocks the whole cooperative pool.
        .executableTarget(
            name: "PoolStarvationProbe",
            dependencies: ["Telemetry", "TelemetryCore", "OTLPExporter", "OTLPSync", "TelemetryPipeline"],
            path: "Tests/PoolStarvationProbe"
        ),

        // MARK: README's quick start, compiled as written (its Swift block becomes main.swift)
        .executableTarget(name: "ReadmeCodeBlock", path: "Tests/ReadmeQuickstart/ReadmeCodeBlock"),
        .plugin(name: "ReadmeQuickstartPlugin", capability: .buildTool(), dependencies: ["ReadmeCodeBlock"]),
        .executableTarget(
            name: "ReadmeQuickstart",
            dependencies: [
                "Telemetry", "TelemetrySession",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Tests/ReadmeQuickstart/Program",
            plugins: [.plugin(name: "ReadmeQuickstartPlugin")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
