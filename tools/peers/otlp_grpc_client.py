#!/usr/bin/env python3
"""A reference OTLP/gRPC client (grpcio + opentelemetry-proto) for interop tests.

Usage: otlp_grpc_client.py HOST:PORT [--gzip] [--count N]
Sends N export requests of each signal (traces: 3 spans, metrics: 2 points, logs: 2 records)
and prints one line per call: "<signal> <status-code-name> <partial_success rejected count>".
"""
import sys

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


def resource():
    return resource_pb2.Resource(attributes=[common_pb2.KeyValue(
        key="service.name", value=common_pb2.AnyValue(string_value="python-reference"))])


SCOPE = common_pb2.InstrumentationScope(name="grpcio-client", version="1.0")


def traces(call):
    spans = [trace_pb2.Span(trace_id=bytes([call + 1] * 16), span_id=bytes([i + 1] * 8), name=f"py-span-{call}-{i}",
                            kind=trace_pb2.Span.SPAN_KIND_CLIENT, start_time_unix_nano=1, end_time_unix_nano=2)
             for i in range(3)]
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource=resource(), scope_spans=[trace_pb2.ScopeSpans(scope=SCOPE, spans=spans)])])


def metrics(call):
    points = [metrics_pb2.NumberDataPoint(time_unix_nano=1, as_double=float(i)) for i in range(2)]
    metric = metrics_pb2.Metric(name=f"py.gauge.{call}", unit="1", gauge=metrics_pb2.Gauge(data_points=points))
    return metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
        resource=resource(), scope_metrics=[metrics_pb2.ScopeMetrics(scope=SCOPE, metrics=[metric])])])


def logs(call):
    records = [logs_pb2.LogRecord(time_unix_nano=1, severity_number=9, body=common_pb2.AnyValue(string_value=f"py-log-{call}-{i}"))
               for i in range(2)]
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        resource=resource(), scope_logs=[logs_pb2.ScopeLogs(scope=SCOPE, log_records=records)])])


def main():
    target = sys.argv[1]
    compression = grpc.Compression.Gzip if "--gzip" in sys.argv else grpc.Compression.NoCompression
    count = int(sys.argv[sys.argv.index("--count") + 1]) if "--count" in sys.argv else 1
    with grpc.insecure_channel(target) as channel:
        stubs = [
            ("traces", trace_service_pb2_grpc.TraceServiceStub(channel).Export, traces, "rejected_spans"),
            ("metrics", metrics_service_pb2_grpc.MetricsServiceStub(channel).Export, metrics, "rejected_data_points"),
            ("logs", logs_service_pb2_grpc.LogsServiceStub(channel).Export, logs, "rejected_log_records"),
        ]
        for call in range(count):
            for name, export, make, rejected_field in stubs:
                try:
                    response = export(make(call), timeout=10, compression=compression)
                    rejected = getattr(response.partial_success, rejected_field)
                    print(f"{name} OK {rejected}", flush=True)
                except grpc.RpcError as error:
                    print(f"{name} {error.code().name} 0", flush=True)


if __name__ == "__main__":
    main()
