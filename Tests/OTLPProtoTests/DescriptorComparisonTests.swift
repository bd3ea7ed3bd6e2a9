import Foundation
import OTLPTestSupport
import ProtoGenCore
import Testing

/// Our `Protos/` parsed by our own generator must describe exactly the schema of the pinned
/// `opentelemetry-proto` Python package (and `google.protobuf.Any` / `Duration` those of the
/// `protobuf` package): every message, enum, field name, number, type, label, oneof, `optional`,
/// JSON name and service method.
@Suite(PythonPeers.trait) struct DescriptorComparisonTests {
    static let files = [
        "opentelemetry/proto/common/v1/common.proto",
        "opentelemetry/proto/resource/v1/resource.proto",
        "opentelemetry/proto/trace/v1/trace.proto",
        "opentelemetry/proto/metrics/v1/metrics.proto",
        "opentelemetry/proto/logs/v1/logs.proto",
        "opentelemetry/proto/collector/trace/v1/trace_service.proto",
        "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
        "opentelemetry/proto/collector/logs/v1/logs_service.proto",
        "google/protobuf/any.proto",
        "google/protobuf/duration.proto",
    ]

    /// The same canonical text as `tools/reference_peer.py describe`.
    static func describe(_ schema: ProtoSchema) -> String {
        var blocks: [String: String] = [:]
        func typeText(_ type: ProtoFieldType) -> String {
            switch type {
            case .scalar(let s): return s.rawValue
            case .message(let n): return "message:" + n
            case .enumeration(let n): return "enum:" + n
            case .named(let n): return "unresolved:" + n
            case .map(let k, let v): return "map<\(k.rawValue),\(typeText(v))>"
            }
        }
        func walk(_ message: ProtoMessageDecl) {
            var lines = ["message \(message.fullName)"]
            for (index, oneof) in message.oneofs.enumerated() {
                let members = message.fields.filter { $0.oneofIndex == index }.map(\.name)
                lines.append("  oneof \(oneof.name): " + members.joined(separator: ","))
            }
            for field in message.fields.sorted(by: { $0.number < $1.number }) {
                let oneof = field.oneofIndex.map { " oneof=" + message.oneofs[$0].name } ?? ""
                lines.append("  field \(field.number) \(field.name) \(field.label.rawValue) \(typeText(field.type)) json=\(field.jsonName)\(oneof)")
            }
            blocks[message.fullName] = lines.joined(separator: "\n")
            message.messages.forEach(walk)
            message.enums.forEach(walkEnum)
        }
        func walkEnum(_ e: ProtoEnumDecl) {
            blocks[e.fullName] = (["enum \(e.fullName)"] + e.values.map { "  value \($0.number) \($0.name)" }).joined(separator: "\n")
        }
        for file in schema.files {
            file.messages.forEach(walk)
            file.enums.forEach(walkEnum)
            for service in file.services {
                blocks[service.fullName] = (["service \(service.fullName)"] + service.methods.map {
                    "  rpc \($0.name) \($0.inputType) \($0.outputType)" + ($0.clientStreaming ? " client-stream" : "") + ($0.serverStreaming ? " server-stream" : "")
                }).joined(separator: "\n")
            }
        }
        return blocks.keys.sorted().map { blocks[$0]! }.joined(separator: "\n")
    }

    @Test func protosMatchTheReferenceDescriptorsExactly() throws {
        let root = TestEnvironment.repositoryRoot.appendingPathComponent("Protos")
        let schema = try ProtoSchema.load(root: root, files: Self.files)
        #expect(schema.files.count == Self.files.count)
        let ours = Self.describe(schema).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let reference = try ReferencePeer.describeDescriptors().split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        #expect(ours.count > 200, "the description should cover the whole schema")
        let difference = ours.difference(from: reference)
        #expect(difference.isEmpty, "differences (- reference, + ours): \(difference.prefix(20).map { change -> String in switch change { case .insert(_, let l, _): return "+ " + l; case .remove(_, let l, _): return "- " + l } })")
    }

    @Test func aChangedFieldNumberIsDetected() throws {
        // The comparison itself must be able to fail: perturb one field and compare again.
        let root = TestEnvironment.repositoryRoot.appendingPathComponent("Protos")
        var sources: [(path: String, text: String)] = []
        for file in Self.files {
            var text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            if file.hasSuffix("trace.proto") && !file.contains("collector") {
                text = text.replacingOccurrences(of: "fixed64 start_time_unix_nano = 7;", with: "fixed64 start_time_unix_nano = 17;")
            }
            sources.append((file, text))
        }
        let ours = Self.describe(try ProtoSchema(sources: sources))
        let reference = try ReferencePeer.describeDescriptors()
        #expect(ours.split(separator: "\n") != reference.split(separator: "\n"))
    }
}
