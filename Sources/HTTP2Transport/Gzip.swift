// gzip (RFC 1952) compression for gRPC messages and OTLP/HTTP bodies via zlib.
import CZlib
public import HTTPTransportCore

/// Owns one `z_stream` (deflate or inflate) and ends it in `deinit`.
private final class ZStream {
    var stream = z_stream()
    private let isDeflate: Bool
    private var initialised = false

    init(deflateLevel level: Int32) throws(GzipError) {
        isDeflate = true
        guard CZlib_deflateInit2(&stream, level, 15 + 16) == Z_OK else {
            throw GzipError(kind: .internalError, message: "deflateInit2 failed")
        }
        initialised = true
    }

    init(inflate: Void) throws(GzipError) {
        isDeflate = false
        guard CZlib_inflateInit2(&stream, 15 + 16) == Z_OK else {
            throw GzipError(kind: .internalError, message: "inflateInit2 failed")
        }
        initialised = true
    }

    deinit {
        guard initialised else { return }
        if isDeflate { deflateEnd(&stream) } else { inflateEnd(&stream) }
    }
}

/// gzip helpers (one `z_stream` per call).
public enum Gzip {
    /// Compresses `input` into one gzip member.
    public static func compress(_ input: [UInt8], level: Int32 = 6) throws(GzipError) -> [UInt8] {
        let z = try ZStream(deflateLevel: level)
        let bound = Int(deflateBound(&z.stream, uLong(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let produced: Int32 = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                z.stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
                z.stream.avail_in = uInt(source.count)
                z.stream.next_out = destination.baseAddress
                z.stream.avail_out = uInt(destination.count)
                return deflate(&z.stream, Z_FINISH)
            }
        }
        guard produced == Z_STREAM_END else { throw GzipError(kind: .internalError, message: "deflate returned \(produced)") }
        output.removeLast(Int(z.stream.avail_out))
        return output
    }

    /// Decompresses one gzip member; fails if the output would exceed `limit` bytes or the input
    /// is corrupt or truncated. Memory stays bounded by `limit` (a "zip bomb" stops there).
    public static func decompress(_ input: [UInt8], limit: Int) throws(GzipError) -> [UInt8] {
        let z = try ZStream(inflate: ())
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(max(input.count * 4, 4096), 256 << 10))
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { source throws(GzipError) in
            z.stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            z.stream.avail_in = uInt(source.count)
            while true {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { destination in
                    z.stream.next_out = destination.baseAddress
                    z.stream.avail_out = uInt(destination.count)
                    status = inflate(&z.stream, Z_NO_FLUSH)
                    return destination.count - Int(z.stream.avail_out)
                }
                if status != Z_OK && status != Z_STREAM_END && !(status == Z_BUF_ERROR && produced > 0) {
                    throw GzipError(kind: .corrupt, message: status == Z_BUF_ERROR ? "truncated input" : "corrupt input (zlib \(status))")
                }
                if output.count + produced > limit {
                    throw GzipError(kind: .tooLarge, message: "decompressed size exceeds \(limit) bytes")
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END { return }
                if produced == 0 && z.stream.avail_in == 0 {
                    throw GzipError(kind: .corrupt, message: "truncated input")
                }
            }
        }
        return output
    }
}

/// ``Gzip`` as a `GzipCodec` value: what ``GRPCClient`` and the OTLP/HTTP exporter are given, so
/// the layers above compress without importing zlib.
public struct ZlibGzip: GzipCodec {
    /// The deflate level of ``compress(_:)``, 0 (none) to 9 (smallest). Default 6, zlib's default.
    public var level: Int32

    public init(level: Int32 = 6) { self.level = level }

    public func compress(_ input: [UInt8]) throws(GzipError) -> [UInt8] {
        try Gzip.compress(input, level: level)
    }

    public func decompress(_ input: [UInt8], limit: Int) throws(GzipError) -> [UInt8] {
        try Gzip.decompress(input, limit: limit)
    }
}
