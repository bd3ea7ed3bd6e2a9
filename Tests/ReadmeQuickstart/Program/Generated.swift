// This program is README.md's quick start: ReadmeQuickstartPlugin writes the Swift code block
// of README.md into this target's main.swift at build time (top-level code, as a reader would
// paste it). CLITests.ReadmeQuickstartTests runs it against a collector.
