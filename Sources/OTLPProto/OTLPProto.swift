// OTLPProto: the OTLP v1 message types, generated at build time by ProtoGenPlugin from the
// `.proto` files under `Protos/` (a symlink to the package's `Protos/`). Nothing generated is
// committed; see Protos/README.md for the OTLP version matched.
@_exported import OTLPWire
