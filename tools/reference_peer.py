#!/usr/bin/env python3
"""The reference side of swift-otlp's codec tests: Python `protobuf` (upb) with the
opentelemetry-proto messages. One process handles a whole batch (no process per message).

Modes (frames are a 4-byte little-endian length followed by that many bytes):
  gen SIGNAL SEED COUNT   stdout: COUNT x [binary frame][OTLP/JSON frame] of seeded random
                          Export<Signal>ServiceRequest messages (edge values included).
  check SIGNAL            stdin: N x [reference binary][swift binary][swift OTLP/JSON];
                          stdout: one line per message, "ok" or "FAIL <index>: <reason>".
  rejects SIGNAL          stdin: N binary frames; stdout: "rejected" or "accepted" per frame.
  to-json SIGNAL          stdin: one binary message; stdout: its OTLP/JSON (reference).
  from-json SIGNAL        stdin: OTLP/JSON; stdout: the reference binary encoding.
  describe                stdout: a canonical description of the descriptors (for the
                          descriptor-comparison test).
OTLP/JSON is protobuf JSON with trace/span ids as hex and enums as integers
(https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding); json_format output is
post-processed into that form, and hex ids are turned back into base64 before ParseDict.
"""
import base64
import json
import math
import random
import struct
import sys

from google.protobuf import descriptor as _descriptor
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

SIGNALS = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}
HEX_KEYS = {"traceId", "spanId", "parentSpanId"}
FD = _descriptor.FieldDescriptor


# ---------------------------------------------------------------- OTLP/JSON

def _walk_ids(value, convert):
    if isinstance(value, dict):
        return {k: (convert(v) if k in HEX_KEYS and isinstance(v, str) else _walk_ids(v, convert))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_walk_ids(v, convert) for v in value]
    return value


def to_otlp_dict(message):
    d = json_format.MessageToDict(message, use_integers_for_enums=True)
    return _walk_ids(d, lambda v: base64.b64decode(v).hex())


def to_otlp_json(message):
    return json.dumps(to_otlp_dict(message), separators=(",", ":"), ensure_ascii=False).encode()


def from_otlp_json(cls, data):
    d = json.loads(data)
    d = _walk_ids(d, lambda v: base64.b64encode(bytes.fromhex(v)).decode())
    return json_format.ParseDict(d, cls())


# ---------------------------------------------------------------- random messages

DOUBLES = [0.0, -0.0, 1.0, -1.5, 0.1, 1e300, -1e-300, 5e-324, math.inf, -math.inf, math.nan, 123456.789]
INT32 = [0, 1, -1, 127, 128, 300, -300, 2**31 - 1, -2**31]
UINT32 = [0, 1, 127, 128, 16384, 2**32 - 1]
INT64 = [0, 1, -1, 2**31, -2**31 - 1, 2**53 + 1, 2**63 - 1, -2**63]
UINT64 = [0, 1, 2**32, 2**53 + 1, 2**64 - 1]
STRINGS = ["", "a", "service.name", "héllo wörld ✓", "emoji 𝄞😀", "quote \" backslash \\ newline \n tab \t", "\x01\x1f\x7f",
           "k" * 130]


def rand_scalar(field, rng):
    t = field.type
    if t in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        v = rng.choice(DOUBLES) if rng.random() < 0.6 else rng.uniform(-1e6, 1e6)
        if t == FD.TYPE_FLOAT and not math.isnan(v) and not math.isinf(v):
            v = struct.unpack("<f", struct.pack("<f", max(min(v, 3e38), -3e38)))[0]
        return v
    if t in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
        return rng.choice(INT32) if rng.random() < 0.6 else rng.randint(-2**31, 2**31 - 1)
    if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
        return rng.choice(UINT32) if rng.random() < 0.6 else rng.randint(0, 2**32 - 1)
    if t in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
        return rng.choice(INT64) if rng.random() < 0.6 else rng.randint(-2**63, 2**63 - 1)
    if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
        return rng.choice(UINT64) if rng.random() < 0.6 else rng.randint(0, 2**64 - 1)
    if t == FD.TYPE_BOOL:
        return rng.random() < 0.5
    if t == FD.TYPE_STRING:
        if rng.random() < 0.5:
            return rng.choice(STRINGS)
        return "".join(chr(rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0xd7ff), rng.randint(0x10000, 0x10ffff)]))
                       for _ in range(rng.randint(0, 12)))
    if t == FD.TYPE_BYTES:
        if field.name == "trace_id":
            n = rng.choice([0, 16, 16, 16])
        elif field.name in ("span_id", "parent_span_id"):
            n = rng.choice([0, 8, 8, 8])
        else:
            n = rng.randint(0, 20)
        return bytes(rng.getrandbits(8) for _ in range(n))
    if t == FD.TYPE_ENUM:
        known = [v.number for v in field.enum_type.values]
        return rng.choice(known) if rng.random() < 0.85 else rng.choice([77, 1000, -5])
    raise ValueError(f"unexpected type {t}")


def fill(message, rng, depth):
    desc = message.DESCRIPTOR
    chosen = {}
    for oneof in desc.oneofs:
        synthetic = oneof.name.startswith("_") and len(oneof.fields) == 1  # proto3 `optional`
        if not synthetic and rng.random() < 0.8:
            chosen[oneof.name] = rng.choice(oneof.fields).name
    for field in desc.fields:
        oneof = field.containing_oneof
        synthetic = oneof is not None and oneof.name.startswith("_") and len(oneof.fields) == 1
        if oneof is not None and not synthetic:
            if chosen.get(oneof.name) != field.name:
                continue
            present = True
        else:
            present = rng.random() < 0.6
        if not present:
            continue
        is_repeated = field.is_repeated
        if field.type == FD.TYPE_MESSAGE:
            if is_repeated:
                count = 0 if depth > 4 else rng.choice([0, 1, 1, 2, 3])
                for _ in range(count):
                    fill(getattr(message, field.name).add(), rng, depth + 1)
            elif depth <= 5:
                sub = getattr(message, field.name)
                sub.SetInParent()
                fill(sub, rng, depth + 1)
        elif is_repeated:
            getattr(message, field.name).extend(rand_scalar(field, rng) for _ in range(rng.choice([0, 1, 2, 5])))
        else:
            setattr(message, field.name, rand_scalar(field, rng))


def random_request(signal, rng):
    message = SIGNALS[signal]()
    fill(message, rng, 0)
    return message


# ---------------------------------------------------------------- framing

def write_frame(out, data):
    out.write(struct.pack("<I", len(data)))
    out.write(data)


def read_frames(data):
    frames, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from("<I", data, i)
        frames.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return frames


def same_json(a, b):
    """Semantic JSON equality (numbers by value; NaN strings compare as text)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def main():
    mode = sys.argv[1]
    out = sys.stdout.buffer
    if mode == "gen":
        signal, seed, count = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        rng = random.Random(seed)
        for _ in range(count):
            message = random_request(signal, rng)
            write_frame(out, message.SerializeToString(deterministic=True))
            write_frame(out, to_otlp_json(message))
    elif mode == "check":
        cls = SIGNALS[sys.argv[2]]
        frames = read_frames(sys.stdin.buffer.read())
        for index in range(0, len(frames), 3):
            reference, swift_binary, swift_json = frames[index:index + 3]
            n = index // 3
            try:
                original = cls.FromString(reference)
                parsed = cls.FromString(swift_binary)
                if parsed.SerializeToString(deterministic=True) != reference:
                    print(f"FAIL {n}: reference re-encoding of Swift's binary differs")
                    continue
                from_json = from_otlp_json(cls, swift_json)
                if from_json.SerializeToString(deterministic=True) != reference:
                    print(f"FAIL {n}: Swift's JSON parses (reference) to a different message")
                    continue
                if not same_json(json.loads(swift_json), to_otlp_dict(original)):
                    print(f"FAIL {n}: Swift's JSON differs from the reference JSON: "
                          f"{swift_json[:300]!r} vs {to_otlp_json(original)[:300]!r}")
                    continue
                print("ok")
            except Exception as error:  # report, keep going
                print(f"FAIL {n}: {type(error).__name__}: {str(error)[:300]}")
    elif mode == "rejects":
        cls = SIGNALS[sys.argv[2]]
        for frame in read_frames(sys.stdin.buffer.read()):
            try:
                cls.FromString(frame)
                print("accepted")
            except Exception:
                print("rejected")
    elif mode == "to-json":
        cls = SIGNALS[sys.argv[2]]
        out.write(to_otlp_json(cls.FromString(sys.stdin.buffer.read())))
    elif mode == "from-json":
        cls = SIGNALS[sys.argv[2]]
        out.write(from_otlp_json(cls, sys.stdin.buffer.read()).SerializeToString(deterministic=True))
    elif mode == "describe":
        print(describe())
    else:
        sys.exit(f"unknown mode {mode}")


# ---------------------------------------------------------------- descriptors

TYPE_NAMES = {getattr(FD, name): name[len("TYPE_"):].lower() for name in dir(FD) if name.startswith("TYPE_")}


def describe():
    """One block per message/enum/service, sorted by full name; fields by number."""
    from google.protobuf import descriptor_pb2, descriptor_pool
    import importlib
    modules = ["common.v1.common_pb2", "resource.v1.resource_pb2", "trace.v1.trace_pb2", "metrics.v1.metrics_pb2",
               "logs.v1.logs_pb2", "collector.trace.v1.trace_service_pb2",
               "collector.metrics.v1.metrics_service_pb2", "collector.logs.v1.logs_service_pb2"]
    modules = ["opentelemetry.proto." + m for m in modules]
    # The well-known types that google.rpc.Status and RetryInfo carry (shipped with protobuf).
    modules += ["google.protobuf.any_pb2", "google.protobuf.duration_pb2"]
    blocks = {}
    for m in modules:
        fd = descriptor_pb2.FileDescriptorProto()
        importlib.import_module(m).DESCRIPTOR.CopyToProto(fd)

        def walk_message(msg, scope):
            full = scope + "." + msg.name
            if msg.options.map_entry:
                return
            lines = [f"message {full}"]
            runtime = descriptor_pool.Default().FindMessageTypeByName(full)
            for oneof_index, oneof in enumerate(msg.oneof_decl):
                members = [f for f in msg.field if f.HasField("oneof_index") and f.oneof_index == oneof_index]
                if not (len(members) == 1 and members[0].proto3_optional):
                    lines.append(f"  oneof {oneof.name}: " + ",".join(f.name for f in members))
            for f in sorted(msg.field, key=lambda f: f.number):
                label = "repeated" if f.label == FD.LABEL_REPEATED else ("optional" if f.proto3_optional else "singular")
                t = TYPE_NAMES[f.type]
                if f.type in (FD.TYPE_MESSAGE, FD.TYPE_ENUM):
                    t += ":" + f.type_name.lstrip(".")
                in_oneof = ""
                if f.HasField("oneof_index") and not f.proto3_optional:
                    in_oneof = " oneof=" + msg.oneof_decl[f.oneof_index].name
                lines.append(f"  field {f.number} {f.name} {label} {t} json={runtime.fields_by_name[f.name].json_name}{in_oneof}")
            blocks[full] = "\n".join(lines)
            for nested in msg.nested_type:
                walk_message(nested, full)
            for enum in msg.enum_type:
                walk_enum(enum, full)

        def walk_enum(enum, scope):
            full = scope + "." + enum.name
            blocks[full] = "\n".join([f"enum {full}"] + [f"  value {v.number} {v.name}" for v in enum.value])

        for msg in fd.message_type:
            walk_message(msg, fd.package)
        for enum in fd.enum_type:
            walk_enum(enum, fd.package)
        for service in fd.service:
            full = fd.package + "." + service.name
            blocks[full] = "\n".join([f"service {full}"] + [
                f"  rpc {r.name} {r.input_type.lstrip('.')} {r.output_type.lstrip('.')}"
                f"{' client-stream' if r.client_streaming else ''}{' server-stream' if r.server_streaming else ''}"
                for r in service.method])
    return "\n".join(blocks[k] for k in sorted(blocks))


if __name__ == "__main__":
    main()
