#!/usr/bin/env python3
"""Writes the codec's golden vectors: hand-picked edge-case OTLP requests encoded by the
reference (Python protobuf/upb), as <name>.binpb (binary) and <name>.json (OTLP/JSON).

Usage: .venv/bin/python tools/golden_vectors.py [OUTPUT_DIR]   (default: Tests/OTLPProtoTests/Golden)
The Swift tests (GoldenVectorTests) decode, re-encode and compare them byte for byte.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_peer import to_otlp_json  # noqa: E402

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

TRACE_ID = bytes(range(1, 17))
SPAN_ID = bytes(range(0xA0, 0xA8))


def kv(key, **value):
    return KeyValue(key=key, value=AnyValue(**value))


def any_values():
    """Every AnyValue kind, including the zero/-0.0/NaN values a oneof must still write."""
    nested = AnyValue()
    nested.array_value.values.add(string_value="in array")
    nested.array_value.values.add(int_value=-1)
    kvlist = AnyValue()
    kvlist.kvlist_value.values.add(key="inner", value=AnyValue(bool_value=True))
    empty_array = AnyValue()
    empty_array.array_value.SetInParent()
    empty_kvlist = AnyValue()
    empty_kvlist.kvlist_value.SetInParent()
    return [
        kv("empty string", string_value=""),
        kv("false", bool_value=False),
        kv("zero int", int_value=0),
        kv("negative zero", double_value=-0.0),
        kv("nan", double_value=math.nan),
        kv("infinity", double_value=math.inf),
        kv("empty bytes", bytes_value=b""),
        kv("bytes", bytes_value=b"\x00\xff\x10"),
        kv("min int", int_value=-2**63),
        kv("negative strindex", string_value_strindex=-1),
        KeyValue(key="array", value=nested),
        KeyValue(key="kvlist", value=kvlist),
        KeyValue(key="empty array", value=empty_array),
        KeyValue(key="empty kvlist", value=empty_kvlist),
        KeyValue(key="no value"),
    ]


def traces():
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add(schema_url="https://opentelemetry.io/schemas/1.26.0")
    rs.resource.attributes.extend(any_values())
    rs.resource.dropped_attributes_count = 3
    ss = rs.scope_spans.add()
    ss.scope.name = "golden"
    ss.scope.version = "1.0"
    span = ss.spans.add(trace_id=TRACE_ID, span_id=SPAN_ID, parent_span_id=bytes(8), trace_state="k=v",
                        flags=0x301, name="héllo ✓ span", kind=Span.SPAN_KIND_SERVER,
                        start_time_unix_nano=1, end_time_unix_nano=2**64 - 1, dropped_attributes_count=2**32 - 1)
    span.attributes.append(kv("http.method", string_value="GET"))
    event = span.events.add(time_unix_nano=5, name="event", dropped_attributes_count=1)
    event.attributes.append(kv("k", int_value=7))
    link = span.links.add(trace_id=TRACE_ID, span_id=SPAN_ID, trace_state="", flags=1)
    link.attributes.append(kv("l", bool_value=True))
    span.status.CopyFrom(Status(message="boom", code=Status.STATUS_CODE_ERROR))
    # An enum value this schema does not know must survive.
    ss.spans.add(name="unknown kind", kind=99)
    # An empty status message is still present.
    ss.spans.add(name="empty status").status.SetInParent()
    return request


def metrics():
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.SetInParent()  # present but empty
    sm = rm.scope_metrics.add()
    gauge = sm.metrics.add(name="gauge", unit="1", description="d")
    gauge.gauge.data_points.add(as_double=-0.0, time_unix_nano=1)
    gauge.gauge.data_points.add(as_int=0)
    gauge.gauge.data_points.add(as_double=math.nan, flags=1)
    total = sm.metrics.add(name="sum")
    total.sum.aggregation_temporality = 2
    total.sum.is_monotonic = True
    point = total.sum.data_points.add(as_int=-5, start_time_unix_nano=10, time_unix_nano=20)
    ex = point.exemplars.add(as_int=0, time_unix_nano=3, trace_id=TRACE_ID, span_id=SPAN_ID)
    ex.filtered_attributes.append(kv("f", double_value=0.5))
    histogram = sm.metrics.add(name="histogram")
    histogram.histogram.aggregation_temporality = 1
    hp = histogram.histogram.data_points.add(count=3, sum=0.0, min=-0.0, max=math.nan)
    hp.bucket_counts.extend([0, 1, 2**64 - 1])
    hp.explicit_bounds.extend([-math.inf, 0.0, -0.0, math.inf])
    exponential = sm.metrics.add(name="exponential")
    ep = exponential.exponential_histogram.data_points.add(scale=-3, zero_count=4, count=9, zero_threshold=-0.0)
    ep.positive.offset = -5
    ep.positive.bucket_counts.extend([1, 300, 0])
    ep.negative.SetInParent()  # present but empty
    summary = sm.metrics.add(name="summary")
    sp = summary.summary.data_points.add(count=2, sum=-0.0)
    sp.quantile_values.add(quantile=0.0, value=-0.0)
    sp.quantile_values.add(quantile=1.0, value=1e300)
    sm.metrics.add(name="no data")
    return request


def logs():
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    sl = rl.scope_logs.add(schema_url="s")
    record = sl.log_records.add(time_unix_nano=1, observed_time_unix_nano=2, severity_number=99,
                                severity_text="WEIRD", flags=0xFF, trace_id=TRACE_ID, span_id=SPAN_ID,
                                event_name="event.name", dropped_attributes_count=1)
    record.body.kvlist_value.values.add(key="message", value=AnyValue(string_value="line\n\"quoted\"\t\x01"))
    record.attributes.extend(any_values()[:6])
    sl.log_records.add(severity_number=9, body=AnyValue(string_value=""))
    return request


VECTORS = {
    "traces_edge": traces,
    "traces_empty": ExportTraceServiceRequest,
    "metrics_edge": metrics,
    "logs_edge": logs,
}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "Tests", "OTLPProtoTests", "Golden")
    os.makedirs(output, exist_ok=True)
    for name, make in VECTORS.items():
        message = make()
        with open(os.path.join(output, name + ".binpb"), "wb") as f:
            f.write(message.SerializeToString(deterministic=True))
        with open(os.path.join(output, name + ".json"), "wb") as f:
            f.write(to_otlp_json(message) + b"\n")
        print("wrote", name)


if __name__ == "__main__":
    main()
