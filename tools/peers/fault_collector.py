#!/usr/bin/env python3
"""OTLP/gRPC collector for swift-otlp's exporter tests: decodes every request with the reference
opentelemetry-proto, reports what it accepted, and plays a fault script.

Output (stdout, one JSON object per line):
  {"listening": PORT}                                     once serving
  {"call": N, "signal": S, "status": CODE, "items": K, "inflight": F}
                                                          every call, in arrival order (F: calls
                                                          in progress including this one)
  {"accepted": S, "items": [...], "headers": {...}}       every call answered OK (items: keys, or
                                                          records with --detail); the accepted
                                                          count excludes items rejected by --script's
                                                          "partial" (those are listed in "rejected")
Options:
  --port P            listen port (0 = any)
  --script JSON       list of per-call faults applied to calls 1, 2, ... in order (then OK):
                      {"status": 14, "message": "...", "retry_ms": 1500, "sleep_ms": 300,
                       "partial": 2}   (status 0 with partial = partial success; retry_ms adds
                       RetryInfo in grpc-status-details-bin; sleep_ms delays the answer)
  --detail            report full item records (attributes, ids) instead of keys
  --summary-after-idle S   print {"summary": {"traces": N, "metrics": N, "logs": N}} and exit once
                      something arrived and then nothing for S seconds (demo "print summary" mode)
  --sink              fast sink for benchmarks: counts requests, bytes and items (one C parse per
                      request, no per-item Python work); prints {"sink": {...}} when they change
"""
import argparse
import json
import os
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2  # noqa: E402
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2  # noqa: E402

from otlp_record import emit, item_records, rpc_status  # noqa: E402

SERVICES = {
    "traces": ("opentelemetry.proto.collector.trace.v1.TraceService",
               trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse,
               "rejected_spans"),
    "metrics": ("opentelemetry.proto.collector.metrics.v1.MetricsService",
                metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse,
                "rejected_data_points"),
    "logs": ("opentelemetry.proto.collector.logs.v1.LogsService",
             logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse,
             "rejected_log_records"),
}

lock = threading.Lock()
state = {"calls": 0, "inflight": 0, "script": [], "detail": False, "last": 0.0,
         "received": {"traces": 0, "metrics": 0, "logs": 0}}


def make_handler(signal):
    _, request_type, response_type, partial_field = SERVICES[signal]

    def export(request, context):
        with lock:
            state["calls"] += 1
            state["inflight"] += 1
            call = state["calls"]
            inflight = state["inflight"]
            fault = state["script"][call - 1] if call <= len(state["script"]) else {}
        try:
            return answer(request, context, call, inflight, fault)
        finally:
            with lock:
                state["inflight"] -= 1

    def answer(request, context, call, inflight, fault):
        records = item_records(signal, request, state["detail"])
        status = int(fault.get("status", 0))
        emit({"call": call, "signal": signal, "status": status, "items": len(records), "inflight": inflight})
        if fault.get("sleep_ms"):
            time.sleep(fault["sleep_ms"] / 1000.0)
        if status != 0:
            message = fault.get("message", "scripted fault")
            trailing = []
            if "retry_ms" in fault:
                trailing.append(("grpc-status-details-bin", rpc_status(status, message, fault["retry_ms"])))
            if trailing:
                context.set_trailing_metadata(trailing)
            code = next(c for c in grpc.StatusCode if c.value[0] == status)
            context.abort(code, message)
        response = response_type()
        partial = int(fault.get("partial", 0))
        rejected = []
        if partial:
            setattr(response.partial_success, partial_field, partial)
            response.partial_success.error_message = "scripted partial success"
            rejected, records = records[:partial], records[partial:]
        if not context.is_active():
            return response  # the client gave up (deadline): not delivered
        headers = {k: v for k, v in context.invocation_metadata() if k in ("authorization", "x-tenant", "x-refresh")}
        emit({"accepted": signal, "items": records, "rejected": rejected, "headers": headers})
        with lock:
            state["received"][signal] += len(records)
            state["last"] = time.monotonic()
        return response

    return export


class SinkCounter:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        self.items = 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--script", default="[]")
    parser.add_argument("--detail", action="store_true")
    parser.add_argument("--sink", action="store_true")
    parser.add_argument("--summary-after-idle", type=float, default=0,
                        help="after something was received and then nothing for this many seconds, print "
                             '{"summary": {"traces": N, "metrics": N, "logs": N}} and exit (for the demo)')
    args = parser.parse_args()
    state["script"] = json.loads(args.script)
    state["detail"] = args.detail
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                         options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 64 << 20)])
    handlers = []
    if args.sink:
        counter = SinkCounter()

        def make_sink(request_type):
            def sink(raw, context):
                # One C (upb) parse per request, then a count of the repeated fields: no
                # per-item Python work beyond len().
                request = request_type.FromString(raw)
                items = 0
                if hasattr(request, "resource_spans"):
                    items = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
                elif hasattr(request, "resource_logs"):
                    items = sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
                with counter.lock:
                    counter.requests += 1
                    counter.bytes += len(raw)
                    counter.items += items
                return b""
            return sink

        def report():
            last = None
            while True:
                time.sleep(0.2)
                with counter.lock:
                    now = (counter.requests, counter.bytes, counter.items)
                if now != last:
                    emit({"sink": {"requests": now[0], "bytes": now[1], "items": now[2]}})
                    last = now
        threading.Thread(target=report, daemon=True).start()
        for signal, (service, request_type, _, _) in SERVICES.items():
            handlers.append(grpc.method_handlers_generic_handler(service, {
                "Export": grpc.unary_unary_rpc_method_handler(make_sink(request_type), request_deserializer=None,
                                                              response_serializer=None)}))
    else:
        for signal, (service, request_type, response_type, _) in SERVICES.items():
            handlers.append(grpc.method_handlers_generic_handler(service, {
                "Export": grpc.unary_unary_rpc_method_handler(
                    make_handler(signal), request_deserializer=request_type.FromString,
                    response_serializer=response_type.SerializeToString)}))
    server.add_generic_rpc_handlers(handlers)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    emit({"listening": port})
    if args.summary_after_idle > 0:
        while True:
            time.sleep(0.1)
            with lock:
                last = state["last"]
                received = dict(state["received"])
            if last and time.monotonic() - last >= args.summary_after_idle:
                emit({"summary": received})
                server.stop(0)
                return 0
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
