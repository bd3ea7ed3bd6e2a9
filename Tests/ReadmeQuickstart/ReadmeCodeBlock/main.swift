// Writes the first ```swift block of a Markdown file to a Swift file, with a #sourceLocation
// pointing at the Markdown lines, so compiler errors name README.md and its line numbers.
// Usage: ReadmeCodeBlock README.md main.swift

import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: ReadmeCodeBlock <markdown> <output.swift>\n".utf8))
    exit(2)
}
let markdown = try String(contentsOfFile: arguments[1], encoding: .utf8)
let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false)
guard let open = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "```swift" }),
    let close = lines[(open + 1)...].firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "```" })
else {
    FileHandle.standardError.write(Data("\(arguments[1]): error: no ```swift code block\n".utf8))
    exit(1)
}
let path = arguments[1].replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
var output = "// Generated from \(arguments[1]) at build time. DO NOT EDIT: edit README.md.\n"
output += "#sourceLocation(file: \"\(path)\", line: \(open + 2))\n"
output += lines[(open + 1)..<close].joined(separator: "\n") + "\n"
output += "#sourceLocation()\n"
// Only rewrite when changed, so an unchanged README does not recompile the program.
if (try? String(contentsOfFile: arguments[2], encoding: .utf8)) != output {
    try output.write(toFile: arguments[2], atomically: true, encoding: .utf8)
}
