#!/usr/bin/env python3
"""OTLP/HTTP receiver for swift-otlp's exporter tests (HTTP/1.1 with keep-alive): decodes
POST /v1/traces, /v1/metrics, /v1/logs bodies, protobuf (application/x-protobuf) or OTLP/JSON
(application/json, hex trace/span ids), optionally gzip-compressed, with the reference
opentelemetry-proto; reports what it accepted and plays a fault script.

Output (stdout, one JSON object per line):
  {"listening": PORT}
  {"call": N, "signal": S, "status": HTTP, "items": K, "content_type": CT, "encoding": E,
   "peer": CLIENT_PORT}                                  every request, in arrival order
  {"accepted": S, "items": [...], "rejected": [...], "headers": {...}}   every 200 answer
Options:
  --port P, --detail (as fault_collector.py)
  --script JSON   per-request faults in order (then 200):
                  {"status": 429, "retry_after": "2" | "Sun, 06 Nov 1994 08:49:37 GMT",
                   "sleep_ms": 300, "partial": 1, "body": "text"}
  --tls-cert F --tls-key F   serve HTTPS (HTTP/1.1 over TLS) with this certificate and key
  --alpn LIST                with TLS: comma-separated ALPN protocols to select from (e.g.
                             "http/1.1"); empty (default) = no ALPN, the server selects none
  --client-ca F              with TLS: require a client certificate signed by this CA
Every call line carries "tls": the negotiated ALPN protocol ("" for none) or null in cleartext.
"""
import argparse
import base64
import gzip
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from google.protobuf import json_format  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2  # noqa: E402
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2  # noqa: E402

from otlp_record import emit, item_records  # noqa: E402

TYPES = {
    "traces": (trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse,
               "rejected_spans"),
    "metrics": (metrics_service_pb2.ExportMetricsServiceRequest, metrics_service_pb2.ExportMetricsServiceResponse,
                "rejected_data_points"),
    "logs": (logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse,
             "rejected_log_records"),
}
ID_KEYS = {"traceId", "spanId", "parentSpanId"}
lock = threading.Lock()
state = {"calls": 0, "script": [], "detail": False}


def hex_ids_to_base64(node):
    """OTLP/JSON carries ids as hex; protobuf's JSON mapping expects base64."""
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if k in ID_KEYS and isinstance(v, str):
                node[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                hex_ids_to_base64(v)
    elif isinstance(node, list):
        for v in node:
            hex_ids_to_base64(v)
    return node


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def negotiated(self):
        if not isinstance(self.connection, ssl.SSLSocket):
            return None
        return self.connection.selected_alpn_protocol() or ""

    def reply(self, status, body, content_type, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        path = self.path.split("?")[0]
        signal = path.rsplit("/", 1)[-1]
        if not path.startswith("/v1/") or signal not in TYPES:
            self.reply(404, b"not found", "text/plain")
            return
        request_type, response_type, partial_field = TYPES[signal]
        content_type = self.headers.get("Content-Type", "")
        encoding = self.headers.get("Content-Encoding", "")
        with lock:
            state["calls"] += 1
            call = state["calls"]
            fault = state["script"][call - 1] if call <= len(state["script"]) else {}
        try:
            if encoding == "gzip":
                raw = gzip.decompress(raw)
            if content_type == "application/json":
                request = json_format.ParseDict(hex_ids_to_base64(json.loads(raw)), request_type())
            else:
                request = request_type.FromString(raw)
        except Exception as error:  # malformed body → 400, like a collector
            emit({"call": call, "signal": signal, "status": 400, "items": 0, "content_type": content_type,
                  "encoding": encoding, "peer": self.client_address[1], "error": str(error)})
            self.reply(400, str(error).encode(), "text/plain")
            return
        records = item_records(signal, request, state["detail"])
        status = int(fault.get("status", 200))
        emit({"call": call, "signal": signal, "status": status, "items": len(records), "content_type": content_type,
              "encoding": encoding, "peer": self.client_address[1], "tls": self.negotiated()})
        if fault.get("sleep_ms"):
            time.sleep(fault["sleep_ms"] / 1000.0)
        if status != 200:
            extra = [("Retry-After", fault["retry_after"])] if "retry_after" in fault else []
            self.reply(status, fault.get("body", "scripted fault").encode(), "text/plain", extra)
            return
        response = response_type()
        partial = int(fault.get("partial", 0))
        rejected = []
        if partial:
            setattr(response.partial_success, partial_field, partial)
            response.partial_success.error_message = "scripted partial success"
            rejected, records = records[:partial], records[partial:]
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() in ("authorization", "x-tenant")}
        emit({"accepted": signal, "items": records, "rejected": rejected, "headers": headers})
        if content_type == "application/json":
            self.reply(200, json_format.MessageToJson(response).encode(), "application/json")
        else:
            self.reply(200, response.SerializeToString(), "application/x-protobuf")


class TLSServer(ThreadingHTTPServer):
    """Wraps each accepted socket in TLS; the handshake runs in the connection's own thread."""
    tls_context = None

    def get_request(self):
        sock, address = super().get_request()
        return self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request, client_address):
        try:
            # Generous idle timeout: on a loaded 2-core CI machine the test process can stall
            # for several seconds between two kept-alive requests; a short timeout here would
            # close the connection and make the keep-alive tests fail for a reason of our own.
            request.settimeout(120)
            request.do_handshake()
        except (ssl.SSLError, OSError) as error:
            sys.stderr.write("TLS handshake failed: %s\n" % error)
            return
        super().finish_request(request, client_address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--script", default="[]")
    parser.add_argument("--detail", action="store_true")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--alpn", default="")
    parser.add_argument("--client-ca")
    args = parser.parse_args()
    state["script"] = json.loads(args.script)
    state["detail"] = args.detail
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server_type = ThreadingHTTPServer
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.alpn:
            context.set_alpn_protocols(args.alpn.split(","))
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
        TLSServer.tls_context = context
        TLSServer.allow_reuse_address = True
        TLSServer.daemon_threads = True
        server_type = TLSServer
    server = server_type(("127.0.0.1", args.port), Handler)
    emit({"listening": server.server_address[1]})
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
