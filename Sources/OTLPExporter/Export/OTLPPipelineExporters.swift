// The pipeline's exporter protocols implemented over OTLP: each batch is converted to its
// Export*ServiceRequest, encoded once (binary or OTLP/JSON) and sent by the signal's exporter.
import HTTP2Transport
import OTLPProto
import OTLPWire
import TelemetryPipeline

/// One signal's OTLP exporter over the protocol its configuration names (gRPC, HTTP/protobuf
/// or HTTP/JSON).
public final class OTLPSignalExporter: Sendable {
    enum Backend: Sendable {
        case grpc(OTLPGRPCExporter)
        case http(OTLPHTTPExporter)
    }
    let backend: Backend
    /// The configuration in use.
    public let configuration: OTLPExporterConfiguration

    /// - Throws: ``OTLPExporterError`` (with its typed cause) when the configuration or the
    ///   transport cannot be set up.
    public init(configuration: OTLPExporterConfiguration,
                options: OTLPExportOptions = OTLPExportOptions()) throws(OTLPExporterError) {
        self.configuration = configuration
        if configuration.protocol == .grpc {
            backend = .grpc(try OTLPGRPCExporter(configuration: configuration, options: options))
        } else {
            backend = .http(try OTLPHTTPExporter(configuration: configuration, options: options))
        }
    }

    /// Item counts so far.
    public var counts: OTLPExportCounts {
        switch backend {
        case .grpc(let e): e.counts
        case .http(let e): e.counts
        }
    }

    var maxRequestBytes: Int {
        switch backend {
        case .grpc(let e): e.core.options.maxRequestBytes
        case .http(let e): e.core.options.maxRequestBytes
        }
    }

    /// Encodes `request` once in the configured encoding and exports it.
    @discardableResult
    public func export<Request: JSONMessage>(_ request: Request, itemCount: Int) async -> OTLPExportResult {
        await export(encoded: encode(request), itemCount: itemCount)
    }

    func encode<Request: JSONMessage>(_ request: Request, headroom: Int = 0) -> [UInt8] {
        guard configuration.protocol == .httpJSON else { return request.encodedBytes(headroom: headroom) }
        return headroom == 0 ? request.jsonBytes() : [UInt8](repeating: 0, count: headroom) + request.jsonBytes()
    }

    /// Zero bytes the exporter wants in front of each encoded request: room for the gRPC frame
    /// prefix, so the request is framed in place instead of copied.
    var requestHeadroom: Int {
        switch backend {
        case .grpc: GRPCFramedMessage.prefixLength
        case .http: 0
        }
    }

    func export(encoded: [UInt8], itemCount: Int) async -> OTLPExportResult {
        switch backend {
        case .grpc(let e): await e.export(encodedRequest: encoded, itemCount: itemCount)
        case .http(let e): await e.export(encodedRequest: encoded, itemCount: itemCount)
        }
    }

    /// Exports a request encoded after ``requestHeadroom`` bytes.
    /// `encoded` is consumed so that the frame prefix is written into it in place (a shared
    /// array would be copied first).
    func export(encoded: consuming [UInt8], headroom: Int, itemCount: Int) async -> OTLPExportResult {
        switch backend {
        case .grpc(let e) where headroom == GRPCFramedMessage.prefixLength:
            await e.export(framedRequest: GRPCFramedMessage(headroomAndMessage: consume encoded)!, itemCount: itemCount)
        case .grpc, .http:
            await export(encoded: headroom == 0 ? encoded : Array(encoded[headroom...]), itemCount: itemCount)
        }
    }

    /// Exports items `0..<count` as requests made by `make`, halving ranges whose encoding is
    /// over the size cap; a single item over the cap is dropped and counted. Returns whether
    /// every part was delivered.
    func exportSplitting<Request: JSONMessage>(
        count: Int, itemCount: (Range<Int>) -> Int, make: (Range<Int>) -> Request
    ) async -> Bool {
        await exportSplitting(count: count, itemCount: itemCount, encode: { encode(make($0), headroom: $1) })
    }

    /// ``exportSplitting(count:itemCount:make:)`` with the encoding of each range made by `encode`.
    func exportSplitting(
        count: Int, itemCount: (Range<Int>) -> Int, encode: (Range<Int>, _ headroom: Int) -> [UInt8]
    ) async -> Bool {
        var pending: [Range<Int>] = [0..<count]
        var allDelivered = true
        let headroom = requestHeadroom
        while let range = pending.popLast() {
            let encoded = encode(range, headroom)
            if encoded.count - headroom > maxRequestBytes && range.count > 1 {
                let middle = range.lowerBound + range.count / 2
                pending.append(middle..<range.upperBound)
                pending.append(range.lowerBound..<middle)
                continue
            }
            let items = itemCount(range)
            let result = await export(encoded: consume encoded, headroom: headroom, itemCount: items)
            if !result.isDelivered { allDelivered = false }
        }
        return allDelivered
    }

    /// Closes the connection(s): gracefully (requests in flight finish first), or at once with
    /// `graceful: false` (requests in flight fail).
    public func shutdown(graceful: Bool = true) {
        switch backend {
        case .grpc(let e): e.shutdown(graceful: graceful)
        case .http(let e): e.shutdown(graceful: graceful)
        }
    }
}

/// Thrown by the pipeline exporters when (part of) a batch was not delivered; the exact
/// item counts are in ``OTLPSignalExporter/counts``.
public struct OTLPExportFailedError: Error, Sendable, CustomStringConvertible {
    public var signal: TelemetrySignal
    public var description: String { "OTLP \(signal) export failed (see the exporter's counts)" }
}

/// A ``SpanExporter`` sending OTLP.
public final class OTLPSpanExporter: SpanExporter {
    public let exporter: OTLPSignalExporter
    public init(configuration: OTLPExporterConfiguration, options: OTLPExportOptions = OTLPExportOptions()) throws {
        exporter = try OTLPSignalExporter(configuration: configuration, options: options)
    }
    public func export(_ batch: SpanBatch) async throws {
        let ok: Bool
        if exporter.configuration.protocol == .httpJSON {
            let spans = batch.spans  // copied out of the pipeline's blocks once
            ok = await exporter.exportSplitting(count: spans.count, itemCount: { $0.count }) { range in
                SpanBatch(resource: batch.resource, spans: Array(spans[range])).makeRequest()
            }
        } else {
            // Binary protobuf straight from the spans, read in their blocks: the same bytes as
            // makeRequest() encoded, without copying the spans or building the messages.
            ok = await exporter.exportSplitting(count: batch.count, itemCount: { $0.count }) { range, headroom in
                batch.encodedExportRequest(range: range, headroom: headroom)
            }
        }
        if !ok { throw OTLPExportFailedError(signal: .traces) }
    }
    /// Closes the connection; called from a cancelled task (the pipeline abandoning its exports
    /// at a shutdown deadline) it closes at once and fails the requests in flight.
    public func shutdown() async { exporter.shutdown(graceful: !Task.isCancelled) }
}

/// A ``LogExporter`` sending OTLP.
public final class OTLPLogExporter: LogExporter {
    public let exporter: OTLPSignalExporter
    public init(configuration: OTLPExporterConfiguration, options: OTLPExportOptions = OTLPExportOptions()) throws {
        exporter = try OTLPSignalExporter(configuration: configuration, options: options)
    }
    public func export(_ batch: LogBatch) async throws {
        let ok: Bool
        if exporter.configuration.protocol == .httpJSON {
            ok = await exporter.exportSplitting(count: batch.records.count, itemCount: { $0.count }) { range in
                LogBatch(resource: batch.resource, records: Array(batch.records[range])).makeRequest()
            }
        } else {
            // Binary protobuf straight from the records (the same bytes as makeRequest() encoded).
            ok = await exporter.exportSplitting(count: batch.records.count, itemCount: { $0.count }) { range, headroom in
                batch.encodedExportRequest(range: range, headroom: headroom)
            }
        }
        if !ok { throw OTLPExportFailedError(signal: .logs) }
    }
    /// Closes the connection; called from a cancelled task (the pipeline abandoning its exports
    /// at a shutdown deadline) it closes at once and fails the requests in flight.
    public func shutdown() async { exporter.shutdown(graceful: !Task.isCancelled) }
}

/// A ``MetricExporter`` sending OTLP (items counted are data points).
public final class OTLPMetricExporter: MetricExporter {
    public let exporter: OTLPSignalExporter
    public init(configuration: OTLPExporterConfiguration, options: OTLPExportOptions = OTLPExportOptions()) throws {
        exporter = try OTLPSignalExporter(configuration: configuration, options: options)
    }
    public func export(_ batch: MetricBatch) async throws {
        let ok = await exporter.exportSplitting(
            count: batch.metrics.count,
            itemCount: { MetricBatch(resource: batch.resource, metrics: Array(batch.metrics[$0])).pointCount }
        ) { range in
            MetricBatch(resource: batch.resource, metrics: Array(batch.metrics[range])).makeRequest()
        }
        if !ok { throw OTLPExportFailedError(signal: .metrics) }
    }
    /// Closes the connection; called from a cancelled task (the pipeline abandoning its exports
    /// at a shutdown deadline) it closes at once and fails the requests in flight.
    public func shutdown() async { exporter.shutdown(graceful: !Task.isCancelled) }
}
