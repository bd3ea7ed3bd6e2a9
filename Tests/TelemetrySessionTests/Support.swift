import Foundation
import Telemetry
import Tracing

/// A provider with in-memory exporters for every signal (the session tests' own copy of
/// TelemetryTests' fixture).
func makeProvider(
    spans: InMemorySpanExporter = InMemorySpanExporter(), metrics: InMemoryMetricExporter = InMemoryMetricExporter(),
    logs: InMemoryLogExporter = InMemoryLogExporter(), configure: (inout PipelineConfiguration) -> Void = { _ in }
) -> TelemetryProvider {
    var configuration = PipelineConfiguration()
    configure(&configuration)
    return TelemetryProvider(
        resource: Resource(serviceName: "test-service", serviceVersion: "1.2.3", deploymentEnvironment: "test"),
        spanExporters: [spans], metricExporters: [metrics], logExporters: [logs], configuration: configuration)
}


/// Writes propagation headers into a dictionary.
struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}
