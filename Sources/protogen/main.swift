// protogen: generates Swift (binary + OTLP/JSON codecs) from proto3 files.
//
// Usage: protogen --proto-root DIR --output FILE.swift PROTO_PATH
//   PROTO_PATH is relative to DIR; its imports are loaded from DIR too.
// Errors in a .proto are printed as `file:line:column: error: message`; exit status 1.
import Foundation
import ProtoGenCore

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

var root: String?
var output: String?
var inputs: [String] = []
var emitterOptions = SwiftEmitter.Options()
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--proto-root": root = arguments.popFirst()
    case "--output": output = arguments.popFirst()
    case "--drop-package-prefix": emitterOptions.droppedPackagePrefix = arguments.popFirst() ?? ""
    case "-h", "--help":
        print("usage: protogen --proto-root DIR --output FILE.swift PROTO_PATH")
        exit(0)
    default:
        if argument.hasPrefix("-") { fail("protogen: unknown option \(argument)") }
        inputs.append(argument)
    }
}
guard let root, let output, inputs.count == 1 else {
    fail("usage: protogen --proto-root DIR --output FILE.swift PROTO_PATH")
}

do {
    let schema = try ProtoSchema.load(root: URL(fileURLWithPath: root), files: inputs)
    let emitter = try SwiftEmitter(schema: schema, options: emitterOptions)
    let source = try emitter.emit(path: inputs[0])
    let data = Data(source.utf8)
    // Leave an unchanged file alone so the build does not recompile it.
    if (try? Data(contentsOf: URL(fileURLWithPath: output))) != data {
        try data.write(to: URL(fileURLWithPath: output), options: .atomic)
    }
} catch let error as ProtoGenError {
    // Paths in errors are relative to the root: make them usable from the build log.
    var located = error
    located.location.file = URL(fileURLWithPath: root).appendingPathComponent(error.location.file).path
    fail(located.description)
} catch {
    fail("protogen: \(error)")
}
