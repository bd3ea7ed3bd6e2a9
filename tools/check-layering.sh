#!/usr/bin/env bash
# Holds ARCHITECTURE.md's module table to Package.swift and the sources:
#  - every target of Package.swift except test targets has a row, and its "may import" list is
#    exactly the target's dependencies (targets and products) there;
#  - every dependency is a target of an earlier row (or an external product): layers point down;
#  - every import in a target's sources names one of its dependencies or a toolchain module;
#  - `.pointee` appears only in the modules that own unsafe memory (see POINTEE_ALLOWED).
# Exit status 0 when all hold; otherwise each violation on a line of its own, and 1.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package dump-package > "${TMPDIR:-/tmp}/swift-otlp-package.json"
exec python3 - "${TMPDIR:-/tmp}/swift-otlp-package.json" <<'PY'
import json, os, re, sys

TOOLCHAIN = {"Foundation", "FoundationEssentials", "Glibc", "Musl", "Darwin", "Dispatch",
             "Synchronization", "_Concurrency", "PackagePlugin", "Testing", "XCTest"}
# Modules that may dereference unsafe pointers: the sync primitives, the codec runtime, the
# transport and the pipeline (which owns span and log record memory); test support.
POINTEE_ALLOWED = {"OTLPSync", "OTLPWire", "HTTP2Transport", "TelemetryCore", "TelemetryPipeline", "OTLPTestSupport"}

package = json.load(open(sys.argv[1]))
targets = {}
for target in package["targets"]:
    dependencies = []
    for dependency in target.get("dependencies", []):
        kind, value = next(iter(dependency.items()))
        dependencies.append(value[0])
    targets[target["name"]] = {"type": target["type"], "deps": dependencies, "path": target.get("path")}

problems = []

# The table: rows between the "Modules, bottom up" heading and the next heading.
text = open("ARCHITECTURE.md", encoding="utf-8").read()
section = text.split("## Modules, bottom up", 1)[1].split("\n## ", 1)[0]
rows = []  # (modules of the row, declared imports)
for line in section.splitlines():
    if not line.startswith("| `"):
        continue
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    head = cells[0].split("(")[0]
    modules = [name for name in re.findall(r"`([^`]+)`", head) if name in targets]
    declared = set(re.findall(r"`([^`]+)`", re.sub(r"\([^)]*\)", "", cells[-1])))
    if not modules:
        problems.append(f"ARCHITECTURE.md: row names no target of Package.swift: {cells[0]}")
        continue
    rows.append((modules, declared))

seen = set()
listed = set()
for modules, declared in rows:
    for module in modules:
        listed.add(module)
        actual = set(targets[module]["deps"])
        if declared != actual:
            missing = sorted(actual - declared)
            extra = sorted(declared - actual)
            problems.append(f"ARCHITECTURE.md: {module} may import {sorted(declared)}, Package.swift gives {sorted(actual)}"
                            + (f" (not in the table: {missing})" if missing else "") + (f" (not in Package.swift: {extra})" if extra else ""))
        for dependency in actual:
            if dependency in targets and dependency not in seen:
                problems.append(f"layering: {module} depends on {dependency}, which is not in an earlier row")
    seen.update(modules)
for name, target in targets.items():
    if target["type"] != "test" and name not in listed:
        problems.append(f"ARCHITECTURE.md: no row for target {name}")

# Imports and .pointee, per target's sources.
import_pattern = re.compile(r"^\s*(?:@[A-Za-z_]+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|fileprivate|private)\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)
for name, target in targets.items():
    if target["type"] in ("test", "system"):
        continue
    default_root = "Plugins" if target["type"] == "plugin" else "Sources"
    root = target["path"] or os.path.join(default_root, name)
    allowed = set(target["deps"]) | TOOLCHAIN
    for directory, _, files in os.walk(root):
        for file in files:
            if not file.endswith(".swift"):
                continue
            path = os.path.join(directory, file)
            source = open(path, encoding="utf-8").read()
            for match in import_pattern.finditer(source):
                module = match.group(1)
                if module not in allowed:
                    line = source.count("\n", 0, match.start()) + 1
                    problems.append(f"{path}:{line}: {name} imports {module}, which is not one of its dependencies")
            if name not in POINTEE_ALLOWED:
                for number, line in enumerate(source.splitlines(), 1):
                    if ".pointee" in line.split("//", 1)[0]:
                        problems.append(f"{path}:{number}: .pointee outside the modules that own unsafe memory ({name})")

for problem in problems:
    print(problem)
if problems:
    print(f"check-layering: {len(problems)} problem(s)")
    sys.exit(1)
print(f"check-layering: {len(rows)} rows, {len(targets)} targets, imports and .pointee rule hold")
PY
