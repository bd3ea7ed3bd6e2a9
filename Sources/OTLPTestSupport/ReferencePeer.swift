import Foundation
import OTLPProto

/// The Python reference codec (`protobuf`/upb with opentelemetry-proto), driven through
/// `tools/reference_peer.py`. Each call runs one child process for a whole batch of messages.
public enum ReferencePeer {
    /// The OTLP signals, as named on the reference script's command line.
    public enum Signal: String, Sendable, CaseIterable {
        case traces, metrics, logs
    }

    /// `tools/reference_peer.py` in the repository.
    public static var script: String {
        TestEnvironment.repositoryRoot.appendingPathComponent("tools/reference_peer.py").path
    }

    /// A message produced by the reference: its binary encoding and its OTLP/JSON.
    public struct Sample: Sendable {
        public var binary: [UInt8]
        public var json: [UInt8]
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    static func run(_ arguments: [String], stdin: Data? = nil, timeout: Double = 120) throws -> Data {
        let output = try ChildProcess.run(TestEnvironment.python, [script] + arguments, stdin: stdin, timeout: timeout)
        guard output.status == 0 else {
            throw Failure(description: "reference_peer.py \(arguments.joined(separator: " ")) exited \(output.status): \(output.stderrText)")
        }
        return output.stdout
    }

    /// Length-prefixed frames (4-byte little-endian length + bytes).
    public static func frame(_ parts: [[UInt8]]) -> Data {
        var data = Data()
        for part in parts {
            var length = UInt32(part.count).littleEndian
            withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
            data.append(contentsOf: part)
        }
        return data
    }

    static func unframe(_ data: Data) throws -> [[UInt8]] {
        let bytes = [UInt8](data)
        var frames: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            guard index + 4 <= bytes.count else { throw Failure(description: "truncated frame header") }
            let length = Int(bytes[index]) | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2]) << 16 | Int(bytes[index + 3]) << 24
            index += 4
            guard index + length <= bytes.count else { throw Failure(description: "truncated frame") }
            frames.append(Array(bytes[index..<index + length]))
            index += length
        }
        return frames
    }

    /// `count` seeded random Export*ServiceRequest messages, encoded by the reference.
    public static func generate(_ signal: Signal, seed: Int, count: Int) throws -> [Sample] {
        let frames = try unframe(try run(["gen", signal.rawValue, String(seed), String(count)]))
        guard frames.count == 2 * count else { throw Failure(description: "expected \(2 * count) frames, got \(frames.count)") }
        return stride(from: 0, to: frames.count, by: 2).map { Sample(binary: frames[$0], json: frames[$0 + 1]) }
    }

    /// Asks the reference to check our encodings of its messages: our binary must re-encode to
    /// its bytes, our JSON must parse to the same message and equal its JSON semantically.
    /// Returns one line per message: `ok` or `FAIL <index>: <reason>`.
    public static func check(_ signal: Signal, _ items: [(reference: [UInt8], binary: [UInt8], json: [UInt8])]) throws -> [String] {
        let input = frame(items.flatMap { [$0.reference, $0.binary, $0.json] })
        let text = String(decoding: try run(["check", signal.rawValue], stdin: input), as: UTF8.self)
        return text.split(separator: "\n").map(String.init)
    }

    /// For each input, whether the reference parser rejects it as malformed.
    public static func rejects(_ signal: Signal, _ inputs: [[UInt8]]) throws -> [Bool] {
        let text = String(decoding: try run(["rejects", signal.rawValue], stdin: frame(inputs)), as: UTF8.self)
        return text.split(separator: "\n").map { $0 == "rejected" }
    }

    /// The reference's OTLP/JSON for a binary message.
    public static func toJSON(_ signal: Signal, binary: [UInt8]) throws -> [UInt8] {
        [UInt8](try run(["to-json", signal.rawValue], stdin: Data(binary)))
    }

    /// The reference's binary encoding of an OTLP/JSON message.
    public static func fromJSON(_ signal: Signal, json: [UInt8]) throws -> [UInt8] {
        [UInt8](try run(["from-json", signal.rawValue], stdin: Data(json)))
    }

    /// The canonical description of the reference descriptors (see `describe` in the script).
    public static func describeDescriptors() throws -> String {
        String(decoding: try run(["describe"]), as: UTF8.self)
    }
}

/// Semantic JSON comparison for tests: objects as unordered maps, numbers by value (and sign).
public enum JSONComparison {
    /// Returns `nil` when `a` and `b` hold the same JSON value, else where they differ.
    public static func difference(_ a: JSONValue, _ b: JSONValue, path: String = "$") -> String? {
        switch (a, b) {
        case let (.object(x), .object(y)):
            let xd = Dictionary(x.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
            let yd = Dictionary(y.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
            if Set(xd.keys) != Set(yd.keys) { return "\(path): keys \(xd.keys.sorted()) vs \(yd.keys.sorted())" }
            for key in xd.keys.sorted() {
                if let d = difference(xd[key]!, yd[key]!, path: path + "." + key) { return d }
            }
            return nil
        case let (.array(x), .array(y)):
            if x.count != y.count { return "\(path): \(x.count) vs \(y.count) elements" }
            for (i, (u, v)) in zip(x, y).enumerated() {
                if let d = difference(u, v, path: "\(path)[\(i)]") { return d }
            }
            return nil
        case let (.number(x), .number(y)):
            guard let u = Double(x), let v = Double(y), u == v, u.sign == v.sign else { return "\(path): \(x) vs \(y)" }
            return nil
        default:
            return a == b ? nil : "\(path): \(a) vs \(b)"
        }
    }

    /// Parses both byte strings as JSON and compares them semantically.
    public static func difference(json a: [UInt8], _ b: [UInt8]) throws -> String? {
        difference(try JSONValue.parse(a), try JSONValue.parse(b))
    }
}
