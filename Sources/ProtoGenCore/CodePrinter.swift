/// Accumulates indented lines of generated code.
struct CodePrinter {
    private(set) var text = ""
    private var indentation = 0

    mutating func line(_ s: String = "") {
        if s.isEmpty { text += "\n"; return }
        text += String(repeating: "    ", count: indentation) + s + "\n"
    }

    /// Prints `header {`, the body one level deeper, then `}` (or `footer`).
    mutating func block(_ header: String, footer: String = "}", _ body: (inout CodePrinter) -> Void) {
        line(header + " {")
        // Swift style: `case` labels line up with their `switch`.
        let step = header.hasPrefix("switch ") ? 0 : 1
        indentation += step
        body(&self)
        indentation -= step
        line(footer)
    }

    mutating func indent() { indentation += 1 }
    mutating func outdent() { indentation -= 1 }
}
