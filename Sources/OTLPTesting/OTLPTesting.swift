// OTLPTesting: an embedded OTLP collector for integration tests (`OTLPTestCollector`).
// Its API names generated OTLP types (spans, data points, log records) and transport types
// (gRPC status codes and header fields from HTTPTransportCore, server statistics from
// HTTP2Transport): those modules come with it.
@_exported import HTTP2Transport
@_exported import HTTPTransportCore
@_exported import OTLPProto
