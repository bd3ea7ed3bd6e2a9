// OTLPTesting: an embedded OTLP collector for integration tests (`OTLPTestCollector`).
// Its API names generated OTLP types (spans, data points, log records) and transport types
// (gRPC status codes, header fields, server statistics): both modules come with it.
@_exported import HTTP2Transport
@_exported import OTLPProto
