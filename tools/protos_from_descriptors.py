#!/usr/bin/env python3
"""Writes the OTLP v1 .proto files under Protos/ from the pinned opentelemetry-proto package.

The Python package ships compiled descriptors (no .proto sources); this script prints each
FileDescriptorProto back as proto3 source: file options, imports, messages (nested types,
oneofs, proto3 `optional`, maps, reserved ranges/names), enums and services.

Usage: .venv/bin/python tools/protos_from_descriptors.py [OUTPUT_DIR]   (default: Protos/)
"""
import importlib
import os
import sys

from google.protobuf import descriptor_pb2

MODULES = [
    "opentelemetry.proto.common.v1.common_pb2",
    "opentelemetry.proto.resource.v1.resource_pb2",
    "opentelemetry.proto.trace.v1.trace_pb2",
    "opentelemetry.proto.metrics.v1.metrics_pb2",
    "opentelemetry.proto.logs.v1.logs_pb2",
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2",
    "opentelemetry.proto.collector.logs.v1.logs_service_pb2",
]

FDP = descriptor_pb2.FieldDescriptorProto
SCALAR = {
    FDP.TYPE_DOUBLE: "double", FDP.TYPE_FLOAT: "float", FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64", FDP.TYPE_INT32: "int32", FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32", FDP.TYPE_BOOL: "bool", FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes", FDP.TYPE_UINT32: "uint32", FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64", FDP.TYPE_SINT32: "sint32", FDP.TYPE_SINT64: "sint64",
}
FILE_OPTIONS = ["java_package", "java_outer_classname", "java_multiple_files", "go_package",
                "csharp_namespace", "objc_class_prefix", "php_namespace", "ruby_package"]


def option_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def type_ref(field, package):
    if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
        name = field.type_name.lstrip(".")
        # Names inside our own package are written relative to it, others fully qualified.
        if name.startswith(package + "."):
            return name[len(package) + 1:]
        return name
    return SCALAR[field.type]


def camel_json_name(name):
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def field_options(field):
    opts = []
    if field.options.HasField("packed"):
        opts.append("packed = " + option_value(field.options.packed))
    if field.options.HasField("deprecated"):
        opts.append("deprecated = " + option_value(field.options.deprecated))
    if field.HasField("json_name") and field.json_name != camel_json_name(field.name):
        opts.append("json_name = " + option_value(field.json_name))
    return " [" + ", ".join(opts) + "]" if opts else ""


def emit_enum(enum, indent, out):
    pad = "  " * indent
    out.append(f"{pad}enum {enum.name} {{")
    if enum.options.HasField("allow_alias"):
        out.append(f"{pad}  option allow_alias = {option_value(enum.options.allow_alias)};")
    for value in enum.value:
        opts = " [deprecated = true]" if value.options.deprecated else ""
        out.append(f"{pad}  {value.name} = {value.number}{opts};")
    emit_reserved(enum.reserved_range, enum.reserved_name, indent + 1, out, inclusive_end=True)
    out.append(f"{pad}}}")


def emit_reserved(ranges, names, indent, out, inclusive_end):
    pad = "  " * indent
    if ranges:
        parts = []
        for r in ranges:
            end = r.end if inclusive_end else r.end - 1
            parts.append(str(r.start) if end == r.start else f"{r.start} to {end}")
        out.append(f"{pad}reserved {', '.join(parts)};")
    if names:
        out.append(f"{pad}reserved {', '.join(option_value(n) for n in names)};")


def emit_message(message, package, indent, out):
    pad = "  " * indent
    out.append(f"{pad}message {message.name} {{")
    map_entries = {n.name: n for n in message.nested_type if n.options.map_entry}
    emit_reserved(message.reserved_range, message.reserved_name, indent + 1, out, inclusive_end=False)
    for enum in message.enum_type:
        emit_enum(enum, indent + 1, out)
    for nested in message.nested_type:
        if not nested.options.map_entry:
            emit_message(nested, package, indent + 1, out)
    emitted_oneofs = set()
    for field in message.field:
        in_real_oneof = field.HasField("oneof_index") and not field.proto3_optional
        if in_real_oneof:
            index = field.oneof_index
            if index in emitted_oneofs:
                continue
            emitted_oneofs.add(index)
            out.append(f"{pad}  oneof {message.oneof_decl[index].name} {{")
            for member in message.field:
                if member.HasField("oneof_index") and member.oneof_index == index and not member.proto3_optional:
                    out.append(f"{pad}    {type_ref(member, package)} {member.name} = {member.number}{field_options(member)};")
            out.append(f"{pad}  }}")
            continue
        entry_name = field.type_name.rsplit(".", 1)[-1]
        if field.label == FDP.LABEL_REPEATED and field.type == FDP.TYPE_MESSAGE and entry_name in map_entries:
            entry = map_entries[entry_name]
            key, value = entry.field[0], entry.field[1]
            out.append(f"{pad}  map<{type_ref(key, package)}, {type_ref(value, package)}> {field.name} = {field.number}{field_options(field)};")
            continue
        label = ""
        if field.label == FDP.LABEL_REPEATED:
            label = "repeated "
        elif field.proto3_optional:
            label = "optional "
        out.append(f"{pad}  {label}{type_ref(field, package)} {field.name} = {field.number}{field_options(field)};")
    out.append(f"{pad}}}")


def emit_file(fd):
    out = ["// Generated by tools/protos_from_descriptors.py from the opentelemetry-proto Python",
           "// package's descriptors. Do not edit by hand; run the script again instead.", "",
           f'syntax = "{fd.syntax or "proto2"}";', "", f"package {fd.package};", ""]
    for dep in fd.dependency:
        out.append(f'import "{dep}";')
    if fd.dependency:
        out.append("")
    for name in FILE_OPTIONS:
        if fd.options.HasField(name):
            out.append(f"option {name} = {option_value(getattr(fd.options, name))};")
    out.append("")
    for message in fd.message_type:
        emit_message(message, fd.package, 0, out)
        out.append("")
    for enum in fd.enum_type:
        emit_enum(enum, 0, out)
        out.append("")
    for service in fd.service:
        out.append(f"service {service.name} {{")
        for method in service.method:
            inp = type_ref_name(method.input_type, fd.package)
            outp = type_ref_name(method.output_type, fd.package)
            cs = "stream " if method.client_streaming else ""
            ss = "stream " if method.server_streaming else ""
            out.append(f"  rpc {method.name}({cs}{inp}) returns ({ss}{outp}) {{}}")
        out.append("}")
        out.append("")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def type_ref_name(name, package):
    name = name.lstrip(".")
    return name[len(package) + 1:] if name.startswith(package + ".") else name


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "Protos")
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        fd = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(fd)
        path = os.path.join(output, fd.name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(emit_file(fd))
        print("wrote", os.path.relpath(path, root))


if __name__ == "__main__":
    main()
