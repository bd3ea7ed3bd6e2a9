// Placeholder: subcommands arrive with their issues.
print("otlp: no subcommands yet")
