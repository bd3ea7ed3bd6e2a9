import Foundation
import HTTPTransportCore
import OTLPTestSupport
import Testing
@testable import OTLPExporter

/// Errors creating an exporter keep their type and cause: a caller can tell a bad endpoint from
/// TLS files that do not load, and still print one readable line.
@Suite struct ExporterErrorTests {
    /// Made by `openssl` child processes, waited for off the cooperative pool.
    static let certificates = Task { try await offPool { try TestCertificates.generate() } }

    /// Both exporters (gRPC, and OTLP/HTTP over https) made from `tls` towards a TLS endpoint.
    func setupErrors(_ tls: OTLPTLSConfiguration) -> [OTLPExporterError] {
        var errors: [OTLPExporterError] = []
        let grpc = OTLPExporterConfiguration(signal: .traces, protocol: .grpc, endpoint: "https://localhost:4317", tls: tls)
        do { _ = try OTLPGRPCExporter(configuration: grpc) } catch { errors.append(error) }
        let http = OTLPExporterConfiguration(signal: .traces, protocol: .httpProtobuf,
                                             endpoint: "https://localhost:4318/v1/traces", tls: tls)
        do { _ = try OTLPHTTPExporter(configuration: http) } catch { errors.append(error) }
        do { _ = try OTLPSignalExporter(configuration: http) } catch { errors.append(error) }
        return errors
    }

    @Test func clientKeyNotMatchingItsCertificateIsATransportSetupErrorWithItsCause() async throws {
        let certs = try await Self.certificates.value
        // The server's key with the client's certificate.
        let tls = OTLPTLSConfiguration(caCertificateFile: certs.caCert,
                                       clientIdentity: .init(certificateFile: certs.clientCert, privateKeyFile: certs.serverKey))
        let errors = setupErrors(tls)
        #expect(errors.count == 3)
        for error in errors {
            #expect(error.code == .transportSetup)
            let cause = try #require(error.transportError)
            #expect(cause.code == .invalidConfiguration)
            #expect(cause.message.contains("mismatch") || cause.message.contains("does not match"), "\(cause)")
            #expect(error.configurationError == nil)
            #expect(error.description.hasPrefix("OTLP exporter: "))
            #expect(error.description.contains(cause.message))
        }
    }

    @Test func caFileThatIsNotPEMIsATransportSetupErrorWithItsCause() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("not-pem-\(UUID().uuidString).pem")
        try Data("this is not a certificate\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let errors = setupErrors(OTLPTLSConfiguration(caCertificateFile: file.path))
        #expect(errors.count == 3)
        for error in errors {
            #expect(error.code == .transportSetup)
            let cause = try #require(error.transportError)
            #expect(cause.code == .invalidConfiguration)
            #expect(cause.message.contains(file.path), "\(cause)")
        }
    }

    @Test func missingCAFileIsATransportSetupError() {
        let errors = setupErrors(OTLPTLSConfiguration(caCertificateFile: "/nonexistent/ca.pem"))
        #expect(errors.count == 3)
        for error in errors { #expect(error.transportError?.code == .invalidConfiguration, "\(error)") }
    }

    @Test func unsupportedSchemeIsAnInvalidConfigurationWithTheConfigurationError() {
        for protocolValue in [OTLPProtocol.grpc, .httpProtobuf, .httpJSON] {
            let configuration = OTLPExporterConfiguration(signal: .logs, protocol: protocolValue, endpoint: "ftp://localhost:4317")
            do {
                _ = try OTLPSignalExporter(configuration: configuration)
                Issue.record("\(protocolValue): an ftp endpoint was accepted")
            } catch {
                #expect(error.code == .invalidConfiguration)
                #expect(error.configurationError?.code == .invalidEndpoint, "\(error)")
                #expect(error.transportError == nil)
                #expect("\(error)".contains("unsupported scheme 'ftp'"), "\(error)")
            }
        }
    }

    @Test func httpExporterGivenGRPCIsAnInvalidConfiguration() {
        let configuration = OTLPExporterConfiguration(signal: .metrics, protocol: .grpc)
        do {
            _ = try OTLPHTTPExporter(configuration: configuration)
            Issue.record("an OTLP/HTTP exporter accepted the gRPC protocol")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.configurationError?.code == .invalidValue)
            #expect(error.description == "OTLP exporter: configuration error (invalidValue): protocol grpc is not OTLP/HTTP")
        }
    }

    @Test func errorsCaughtUntypedStillPrintOneReadableLine() {
        let configuration = OTLPExporterConfiguration(signal: .traces, protocol: .grpc, endpoint: "ftp://localhost:4317")
        do {
            let make: () throws -> OTLPGRPCExporter = { try OTLPGRPCExporter(configuration: configuration) }
            _ = try make()
            Issue.record("an ftp endpoint was accepted")
        } catch {
            #expect(error is OTLPExporterError)
            #expect("\(error)".hasPrefix("OTLP exporter: configuration error (invalidEndpoint)"), "\(error)")
        }
    }
}
