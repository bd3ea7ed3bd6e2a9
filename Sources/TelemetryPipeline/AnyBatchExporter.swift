import TelemetryCore

/// Type-erased exporter of one signal's batches.
struct AnyBatchExporter<Batch: Sendable>: Sendable {
    let export: @Sendable (Batch) async throws -> Void
    let forceFlush: @Sendable () async throws -> Void
    let shutdown: @Sendable () async -> Void
}

extension AnyBatchExporter where Batch == SpanBatch {
    init(_ exporter: any SpanExporter) {
        self.init(export: { try await exporter.export($0) }, forceFlush: { try await exporter.forceFlush() }, shutdown: { await exporter.shutdown() })
    }
}

extension AnyBatchExporter where Batch == MetricBatch {
    init(_ exporter: any MetricExporter) {
        self.init(export: { try await exporter.export($0) }, forceFlush: { try await exporter.forceFlush() }, shutdown: { await exporter.shutdown() })
    }
}

extension AnyBatchExporter where Batch == LogBatch {
    init(_ exporter: any LogExporter) {
        self.init(export: { try await exporter.export($0) }, forceFlush: { try await exporter.forceFlush() }, shutdown: { await exporter.shutdown() })
    }
}
