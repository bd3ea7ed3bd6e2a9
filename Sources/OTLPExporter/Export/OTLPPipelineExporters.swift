// The pipeline's exporter protocols implemented over OTLP: each batch is converted to its
// Export*ServiceRequest, encoded once (binary or OTLP/JSON) and sent by the signal's exporter.
import HTTPTransportCore
import OTLPProto
public import OTLPWire
public import TelemetryCore
import TelemetryPipeline

/// What ``OTLPSignalExporter`` needs of the exporter of one OTLP protocol: ``OTLPGRPCExporter``
/// (OTLP/gRPC) and ``OTLPHTTPExporter`` (OTLP/HTTP, protobuf or JSON).
protocol OTLPProtocolExporter: Sendable {
    var counts: OTLPExportCounts { get }
    /// Requests larger than this are dropped and counted, never sent.
    var maxRequestBytes: Int { get }
    /// Zero bytes wanted in front of each encoded request: room for a frame prefix written in
    /// place, so the request is framed without a copy.
    var requestHeadroom: Int { get }
    /// Exports a request encoded after `headroom` zero bytes. `encoded` is consumed, so a frame
    /// prefix can be written into it in place (a shared array would be copied first).
    func export(encoded: consuming [UInt8], headroom: Int, itemCount: Int) async -> OTLPExportResult
    func shutdown(graceful: Bool)
}

extension OTLPGRPCExporter: OTLPProtocolExporter {
    var maxRequestBytes: Int { core.options.maxRequestBytes }
    var requestHeadroom: Int { GRPCFramedMessage.prefixLength }

    func export(encoded: consuming [UInt8], headroom: Int, itemCount: Int) async -> OTLPExportResult {
        if headroom == GRPCFramedMessage.prefixLength {
            return await export(framedRequest: GRPCFramedMessage(headroomAndMessage: consume encoded)!, itemCount: itemCount)
        }
        return await export(encodedRequest: headroom == 0 ? encoded : Array(encoded[headroom...]), itemCount: itemCount)
    }
}

extension OTLPHTTPExporter: OTLPProtocolExporter {
    var maxRequestBytes: Int { core.options.maxRequestBytes }
    var requestHeadroom: Int { 0 }

    func export(encoded: consuming [UInt8], headroom: Int, itemCount: Int) async -> OTLPExportResult {
        await export(encodedRequest: headroom == 0 ? encoded : Array(encoded[headroom...]), itemCount: itemCount)
    }
}

/// One signal's OTLP exporter over the protocol its configuration names (gRPC, HTTP/protobuf
/// or HTTP/JSON).
public final class OTLPSignalExporter: Sendable {
    let exporter: any OTLPProtocolExporter
    /// The configuration in use.
    public let configuration: OTLPExporterConfiguration

    /// - Throws: ``OTLPExporterError`` (with its typed cause) when the configuration or the
    ///   transport cannot be set up.
    public init(configuration: OTLPExporterConfiguration,
                options: OTLPExportOptions = OTLPExportOptions()) throws(OTLPExporterError) {
        self.configuration = configuration
        if configuration.protocol == .grpc {
            exporter = try OTLPGRPCExporter(configuration: configuration, options: options)
        } else {
            exporter = try OTLPHTTPExporter(configuration: configuration, options: options)
        }
    }

    /// Item counts so far.
    public var counts: OTLPExportCounts { exporter.counts }

    var maxRequestBytes: Int { exporter.maxRequestBytes }

    /// Encodes `request` once in the configured encoding and exports it.
    @discardableResult
    public func export<Request: JSONMessage>(_ request: Request, itemCount: Int) async -> OTLPExportResult {
        await export(encoded: encode(request), itemCount: itemCount)
    }

    func encode<Request: JSONMessage>(_ request: Request, headroom: Int = 0) -> [UInt8] {
        guard configuration.protocol == .httpJSON else { return request.encodedBytes(headroom: headroom) }
        return headroom == 0 ? request.jsonBytes() : [UInt8](repeating: 0, count: headroom) + request.jsonBytes()
    }

    /// Zero bytes the exporter wants in front of each encoded request.
    var requestHeadroom: Int { exporter.requestHeadroom }

    func export(encoded: [UInt8], itemCount: Int) async -> OTLPExportResult {
        await exporter.export(encoded: encoded, headroom: 0, itemCount: itemCount)
    }

    /// Exports a request encoded after ``requestHeadroom`` bytes.
    func export(encoded: consuming [UInt8], headroom: Int, itemCount: Int) async -> OTLPExportResult {
        await exporter.export(encoded: encoded, headroom: headroom, itemCount: itemCount)
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
        exporter.shutdown(graceful: graceful)
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
