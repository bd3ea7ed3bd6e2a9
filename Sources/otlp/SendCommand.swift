import ArgumentParser
import Foundation
import HTTP2Transport
import HTTPTransportCore
import OTLPExporter
import OTLPProto
import OTLPWire
import TelemetryCore

/// `otlp send`: sends one binary OTLP export request as a gRPC call (like grpcurl, for OTLP).
///
/// Exit status: 0 OK; 1 the server answered with a gRPC error status; 2 bad usage or input;
/// 3 transport error (connect, TLS, deadline, protocol). Each failure prints one line to stderr.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send one binary OTLP export request to a collector over OTLP/gRPC.",
        discussion: """
            Reads a serialized Export{Trace,Metrics,Logs}ServiceRequest from FILE (or stdin), calls the \
            matching collector service and prints the gRPC status, message and partial-success counts. \
            Exit status: 0 OK, 1 gRPC error status, 2 bad usage or input, 3 transport error. \
            URL schemes: http:// = h2c (prior knowledge), https:// = TLS (ALPN h2).
            """
    )

    @Option(name: .long, help: "Collector URL, e.g. http://localhost:4317 or https://collector:4317.")
    var endpoint: String?

    @Option(name: .long, help: "traces, metrics or logs.")
    var signal: String?

    @Argument(help: "File holding the binary export request; stdin when omitted.")
    var file: String?

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .long, help: "Deadline of the call in seconds (default 10).")
    var timeout: Double = 10

    func run() async throws {
        // Usage and input checks: exit 2.
        guard let endpointText = endpoint else { throw usage("--endpoint URL is required") }
        let parsedEndpoint: Endpoint
        do throws(TransportError) { parsedEndpoint = try Endpoint(url: endpointText) } catch { throw usage(error.message) }
        guard let signalText = signal else { throw usage("--signal traces|metrics|logs is required") }
        guard let signal = TelemetrySignal(rawValue: signalText) else { throw usage("--signal must be traces, metrics or logs, not \(signalText)") }
        let metadata = try connection.headerFields(orUsage: usage).map { HTTPField($0.name, $0.value) }
        guard timeout > 0, timeout.isFinite else { throw usage("--timeout must be a positive number of seconds") }
        if (connection.clientCert == nil) != (connection.clientKey == nil) { throw usage("--client-cert and --client-key must be given together") }
        if !parsedEndpoint.useTLS && (connection.caFile != nil || connection.clientCert != nil || connection.insecure) {
            throw usage("TLS options need an https:// endpoint")
        }
        let bytes: [UInt8]
        if let file {
            guard let handle = FileHandle(forReadingAtPath: file) else { throw usage("cannot read \(file)") }
            defer { try? handle.close() }
            bytes = [UInt8](handle.readDataToEndOfFile())
        } else {
            bytes = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        }
        do throws(ProtoDecodingError) {
            switch signal {
            case .traces: _ = try CollectorTraceV1ExportTraceServiceRequest(serializedBytes: bytes)
            case .metrics: _ = try CollectorMetricsV1ExportMetricsServiceRequest(serializedBytes: bytes)
            case .logs: _ = try CollectorLogsV1ExportLogsServiceRequest(serializedBytes: bytes)
            }
        } catch {
            throw usage("input is not a valid \(signal.rawValue) export request: \(error)")
        }

        // The call: transport failures exit 3.
        var configuration = HTTP2ClientConfiguration(endpoint: parsedEndpoint)
        configuration.tls = TLSOptions(caFile: connection.caFile, clientCertificateFile: connection.clientCert,
                                       clientKeyFile: connection.clientKey, insecure: connection.insecure)
        let deadline = Duration.milliseconds(Int64((timeout * 1000).rounded(.up)))
        configuration.connectTimeout = deadline
        let client: GRPCClient
        do throws(TransportError) { client = try GRPCClient(configuration: configuration) } catch {
            if error.code == .invalidConfiguration { throw usage(error.message) }
            throw failure(3, "transport error: \(error)")
        }
        defer { client.shutdown(graceful: false) }
        let result = await client.unary(path: signal.grpcPath, metadata: metadata, message: bytes, timeout: deadline,
                                        compression: connection.gzip ? .gzip : .none)
        let response: GRPCResponse
        switch result {
        case .success(let value): response = value
        case .failure(let error): throw failure(3, "transport error: \(error)")
        }
        print("status: \(response.code) (\(response.code.rawValue))")
        if !response.message.isEmpty { print("message: \(response.message)") }
        guard response.code == .ok else {
            throw failure(1, "server answered \(response.code)\(response.message.isEmpty ? "" : ": \(response.message)")")
        }
        do throws(ProtoDecodingError) {
            switch signal {
            case .traces:
                if let partial = try CollectorTraceV1ExportTraceServiceResponse(serializedBytes: response.payload).partialSuccess {
                    printPartial(rejected: partial.rejectedSpans, what: "spans", message: partial.errorMessage)
                }
            case .metrics:
                if let partial = try CollectorMetricsV1ExportMetricsServiceResponse(serializedBytes: response.payload).partialSuccess {
                    printPartial(rejected: partial.rejectedDataPoints, what: "data points", message: partial.errorMessage)
                }
            case .logs:
                if let partial = try CollectorLogsV1ExportLogsServiceResponse(serializedBytes: response.payload).partialSuccess {
                    printPartial(rejected: partial.rejectedLogRecords, what: "log records", message: partial.errorMessage)
                }
            }
        } catch {
            throw failure(3, "undecodable export response: \(error)")
        }
    }

    private func printPartial(rejected: Int64, what: String, message: String) {
        print("partial success: \(rejected) rejected \(what)\(message.isEmpty ? "" : ": \(message)")")
    }

    private func usage(_ message: String) -> ExitCode { failure(2, message) }

    private func failure(_ code: Int32, _ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("otlp send: \(message)\n".utf8))
        return ExitCode(code)
    }
}
