"""Shared helpers of swift-otlp's OTLP test receivers: item keys for exactly-once checks and
a google.rpc.Status encoder (RetryInfo) without googleapis-common-protos."""
import json
import sys
import threading

_print_lock = threading.Lock()


def emit(obj):
    """One JSON object per stdout line (the Swift launchers parse these)."""
    line = json.dumps(obj, separators=(",", ":"))
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _any_value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind in ("array_value", "kvlist_value", "bytes_value"):
        return str(getattr(v, kind))
    return getattr(v, kind)


def _attrs(attributes):
    return {kv.key: _any_value(kv.value) for kv in attributes}


def item_records(signal, request, detail):
    """One record per span / data point / log record. Without detail: the key only."""
    out = []
    if signal == "traces":
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for s in ss.spans:
                    if detail:
                        out.append({"key": s.name, "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                                    "kind": s.kind, "attrs": _attrs(s.attributes),
                                    "resource": _attrs(rs.resource.attributes), "scope": ss.scope.name,
                                    "parent_span_id": s.parent_span_id.hex(), "trace_state": s.trace_state,
                                    "start": s.start_time_unix_nano, "end": s.end_time_unix_nano,
                                    "status": s.status.code,
                                    "events": [{"name": e.name, "attrs": _attrs(e.attributes)} for e in s.events]})
                    else:
                        out.append(s.name)
    elif signal == "metrics":
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    if not kind:
                        continue
                    for dp in getattr(m, kind).data_points:
                        if kind in ("sum", "gauge"):
                            value = dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double
                        elif kind == "histogram" or kind == "exponential_histogram":
                            value = dp.count
                        else:
                            value = dp.count
                        key = f"{m.name}:{value}"
                        if detail:
                            out.append({"key": key, "kind": kind, "attrs": _attrs(dp.attributes),
                                        "resource": _attrs(rm.resource.attributes)})
                        else:
                            out.append(key)
    else:
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    key = r.body.string_value if r.body.WhichOneof("value") == "string_value" else str(_any_value(r.body))
                    if detail:
                        out.append({"key": key, "severity": r.severity_number, "attrs": _attrs(r.attributes),
                                    "trace_id": r.trace_id.hex(), "span_id": r.span_id.hex(),
                                    "resource": _attrs(rl.resource.attributes)})
                    else:
                        out.append(key)
    return out


def _varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field_bytes(number, data):
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _field_varint(number, value):
    return _varint(number << 3) + _varint(value)


def rpc_status(code, message, retry_delay_ms=None):
    """A serialized google.rpc.Status, with a google.rpc.RetryInfo detail when a delay is given."""
    body = _field_varint(1, code) + _field_bytes(2, message.encode())
    if retry_delay_ms is not None:
        seconds, millis = divmod(int(retry_delay_ms), 1000)
        duration = _field_varint(1, seconds) + _field_varint(2, millis * 1_000_000)
        retry_info = _field_bytes(1, duration)
        any_msg = _field_bytes(1, b"type.googleapis.com/google.rpc.RetryInfo") + _field_bytes(2, retry_info)
        body += _field_bytes(3, any_msg)
    return body
