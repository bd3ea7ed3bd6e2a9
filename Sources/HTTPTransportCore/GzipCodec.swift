// gzip as the core sees it: a protocol and its error. The implementation links zlib and lives in
// HTTP2Transport (`ZlibGzip`), so nothing above the transport imports a C module to compress.

/// A gzip failure: corrupt input, or output larger than allowed.
public struct GzipError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public enum Kind: Sendable, Hashable { case corrupt, tooLarge, internalError }
    /// What kind of failure.
    public var kind: Kind
    /// Detail, e.g. "truncated input".
    public var message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "gzip: \(message)" }
}

/// gzip (RFC 1952) compression of message and request bodies: `grpc-encoding: gzip` for
/// ``GRPCClient`` and `content-encoding: gzip` for OTLP/HTTP. Implemented on zlib by
/// `HTTP2Transport`'s `ZlibGzip`.
public protocol GzipCodec: Sendable {
    /// Compresses `input` into one gzip member.
    func compress(_ input: [UInt8]) throws(GzipError) -> [UInt8]
    /// Decompresses one gzip member. Fails with `.tooLarge` once the output would exceed
    /// `limit` bytes (memory stays bounded by `limit`), with `.corrupt` on corrupt or truncated input.
    func decompress(_ input: [UInt8], limit: Int) throws(GzipError) -> [UInt8]
}
