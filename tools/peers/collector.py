#!/usr/bin/env python3
"""OTLP/gRPC collector test peer (grpcio + opentelemetry-proto) with scriptable behaviour.

Each call's behaviour comes from request metadata, so one server serves a whole test suite:
  x-test-status: N            answer with gRPC status N (message from x-test-message, default "scripted")
  x-test-message: TEXT        the grpc-message (any Unicode; grpcio percent-encodes it)
  x-test-details: 1           also send grpc-status-details-bin (bytes b"details-\x00\xff")
  x-test-sleep-ms: N          sleep N ms before answering (deadline tests)
  x-test-compress: gzip       compress the response message
  x-test-partial: N           OK with partial_success rejected count N and error_message "partial"
Every call echoes request metadata back as initial metadata "echo-<key>" (not grpc-/x-test- keys),
and sets "x-max-inflight" (the most calls this server ever had in flight at once) and
"x-items" (spans / data points / log records counted in the request) as trailing metadata.

Prints "listening on PORT" once serving. Options: --port P (default 0 = any), --tls CERT KEY,
--client-ca CA (require client certificates), --max-concurrent-streams N.
"""
import argparse
import sys
import threading
import time
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

lock = threading.Lock()
inflight = 0
max_inflight = 0


def count_items(request):
    total = 0
    if hasattr(request, "resource_spans"):
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                total += len(ss.spans)
    elif hasattr(request, "resource_metrics"):
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    if kind:
                        total += len(getattr(m, kind).data_points)
    elif hasattr(request, "resource_logs"):
        for rl in request.resource_logs:
            for sl in rl.scope_logs:
                total += len(sl.log_records)
    return total


def handle(request, context, response_type, partial_field):
    global inflight, max_inflight
    with lock:
        inflight += 1
        max_inflight = max(max_inflight, inflight)
    try:
        md = {}
        for key, value in context.invocation_metadata():
            md[key] = value
        echo = [("echo-" + k, v) for k, v in md.items()
                if not k.startswith("grpc-") and not k.startswith("x-test-") and not k.endswith("-bin")
                and k not in ("user-agent", "te", "content-type")]
        echo.append(("echo-user-agent", md.get("user-agent", "")))
        if md.get("x-test-compress") == "gzip":
            context.set_compression(grpc.Compression.Gzip)
        context.send_initial_metadata(echo)
        sleep_ms = int(md.get("x-test-sleep-ms", "0"))
        if sleep_ms:
            time.sleep(sleep_ms / 1000.0)
        trailing = [("x-max-inflight", str(max_inflight)), ("x-items", str(count_items(request)))]
        status = int(md.get("x-test-status", "0"))
        if status != 0:
            if md.get("x-test-details") == "1":
                trailing.append(("grpc-status-details-bin", b"details-\x00\xff"))
            context.set_trailing_metadata(trailing)
            context.abort(grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == status)),
                          md.get("x-test-message", "scripted"))
        context.set_trailing_metadata(trailing)
        response = response_type()
        partial = int(md.get("x-test-partial", "0"))
        if partial:
            ps = getattr(response, "partial_success")
            setattr(ps, partial_field, partial)
            ps.error_message = "partial"
        return response
    finally:
        with lock:
            inflight -= 1


class Trace(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request, context):
        return handle(request, context, trace_service_pb2.ExportTraceServiceResponse, "rejected_spans")


class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def Export(self, request, context):
        return handle(request, context, metrics_service_pb2.ExportMetricsServiceResponse, "rejected_data_points")


class Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def Export(self, request, context):
        return handle(request, context, logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--client-ca")
    parser.add_argument("--max-concurrent-streams", type=int, default=0)
    args = parser.parse_args()
    options = [("grpc.so_reuseport", 0)]
    if args.max_concurrent_streams:
        options.append(("grpc.max_concurrent_streams", args.max_concurrent_streams))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=options)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Trace(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
    address = f"127.0.0.1:{args.port}"
    if args.tls:
        with open(args.tls[0], "rb") as f:
            cert = f.read()
        with open(args.tls[1], "rb") as f:
            key = f.read()
        ca = None
        if args.client_ca:
            with open(args.client_ca, "rb") as f:
                ca = f.read()
        creds = grpc.ssl_server_credentials([(key, cert)], root_certificates=ca,
                                            require_client_auth=ca is not None)
        port = server.add_secure_port(address, creds)
    else:
        port = server.add_insecure_port(address)
    server.start()
    print(f"listening on {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
