#!/usr/bin/env python3
"""Recording OTLP/gRPC collector test peer (grpcio + opentelemetry-proto).

Accepts Export calls for traces, metrics and logs, answers OK, and prints every request it
received as one line: "RECEIVED <signal> <json>", where <json> is the reference
json_format rendering (camelCase field names, uint64 as strings) of the whole request.
Prints "listening on PORT" once serving. Options: --port P (default 0 = any).
"""
import argparse
import json
import sys
from concurrent import futures

import grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


def record(signal, request):
    text = json.dumps(json_format.MessageToDict(request), separators=(",", ":"))
    sys.stdout.write(f"RECEIVED {signal} {text}\n")
    sys.stdout.flush()


class Trace(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request, context):
        record("traces", request)
        return trace_service_pb2.ExportTraceServiceResponse()


class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def Export(self, request, context):
        record("metrics", request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def Export(self, request, context):
        record("logs", request)
        return logs_service_pb2.ExportLogsServiceResponse()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)])
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Trace(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"listening on {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
