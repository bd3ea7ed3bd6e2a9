import Telemetry
@testable import OTLPExporter

/// One workload a provider sends through the three OTLP exporters of one protocol: 50 client
/// spans `span-0` … `span-49` (attribute `i`), one warning log record `careful` (attribute
/// `k` = `v`) and a counter `hits` of 5, under the resource `service.name` = `pipeline-test`,
/// then a shutdown. The embedded and the reference collector tests check what arrived.
struct ProviderWorkload {
    let spans: OTLPSpanExporter
    let logs: OTLPLogExporter
    let metrics: OTLPMetricExporter

    /// Exporters of `proto` to `endpoint` (gRPC: the base; OTLP/HTTP: the base and the signal's path).
    init(proto: OTLPProtocol, endpoint: String) throws {
        func config(_ signal: TelemetrySignal) -> OTLPExporterConfiguration {
            OTLPExporterConfiguration(signal: signal, protocol: proto,
                                      endpoint: proto == .grpc ? endpoint : "\(endpoint)/\(signal.httpPath)", retry: fastRetry)
        }
        spans = try OTLPSpanExporter(configuration: config(.traces))
        logs = try OTLPLogExporter(configuration: config(.logs))
        metrics = try OTLPMetricExporter(configuration: config(.metrics))
    }

    /// Sends the workload through a provider and shuts it down.
    func run() async throws {
        let provider = TelemetryProvider(resource: Resource(serviceName: "pipeline-test"), spanExporters: [spans],
                                         metricExporters: [metrics], logExporters: [logs])
        let tracer = provider.tracer("t")
        for i in 0..<50 {
            let span = tracer.startSpan("span-\(i)", kind: .client, attributes: [Attribute("i", .int(Int64(i)))])
            span.end()
        }
        provider.logger("l").warn("careful", attributes: [Attribute("k", .string("v"))])
        provider.meter("m").counter("hits", of: Int64.self).add(5)
        try await provider.shutdown(timeout: .seconds(20))
    }

    /// Every span and the log record were exported and none failed.
    var exportedEverything: Bool {
        spans.exporter.counts.exported == 50 && spans.exporter.counts.failed == 0 && logs.exporter.counts.exported == 1
    }
}
