public import CPipelineSupport

/// A 16-byte W3C trace id.
public struct TraceID: Sendable, Hashable, CustomStringConvertible {
    /// Bytes 0..<8, big-endian.
    public var high: UInt64
    /// Bytes 8..<16, big-endian.
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The all-zero, invalid trace id.
    public static let invalid = TraceID(high: 0, low: 0)

    /// Whether the id is not all zeros.
    public var isValid: Bool { high != 0 || low != 0 }

    /// The 16 bytes, big-endian (one allocation).
    public var bytes: [UInt8] {
        var bigEndian = (high.bigEndian, low.bigEndian)
        return withUnsafeBytes(of: &bigEndian) { Array($0) }
    }

    /// Parses 32 lowercase or uppercase hex digits.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 32, let high = parseHex64(hex.utf8.prefix(16)),
            let low = parseHex64(hex.utf8.dropFirst(16))
        else { return nil }
        self.init(high: high, low: low)
    }

    /// Builds an id from 16 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.init(high: bytesToUInt64(bytes[0..<8]), low: bytesToUInt64(bytes[8..<16]))
    }

    /// 32 lowercase hex digits.
    public var hexString: String { hex64(high) + hex64(low) }
    public var description: String { hexString }
}

/// An 8-byte span id.
public struct SpanID: Sendable, Hashable, CustomStringConvertible {
    /// The 8 bytes as a big-endian integer.
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    /// The all-zero, invalid span id.
    public static let invalid = SpanID(0)
    public var isValid: Bool { value != 0 }
    /// The 8 bytes, big-endian (one allocation).
    public var bytes: [UInt8] {
        var bigEndian = value.bigEndian
        return withUnsafeBytes(of: &bigEndian) { Array($0) }
    }

    /// Parses 16 hex digits.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 16, let value = parseHex64(hex.utf8) else { return nil }
        self.init(value)
    }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 8 else { return nil }
        self.init(bytesToUInt64(bytes[0..<8]))
    }

    public var hexString: String { hex64(value) }
    public var description: String { hexString }
}

/// W3C trace flags (https://www.w3.org/TR/trace-context/#trace-flags).
public struct TraceFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The caller (or we) recorded and export this trace.
    @inlinable public static var sampled: TraceFlags { TraceFlags(rawValue: 0x01) }
}

/// The propagated part of a span: ids, flags and the W3C `tracestate` header value.
public struct SpanContext: Sendable, Hashable {
    public var traceID: TraceID
    public var spanID: SpanID
    public var traceFlags: TraceFlags
    /// The raw W3C `tracestate` value (list-members joined by commas), or empty.
    public var traceState: String
    /// Whether this context came from another process (e.g. a `traceparent` header).
    public var isRemote: Bool

    public init(traceID: TraceID, spanID: SpanID, traceFlags: TraceFlags = [], traceState: String = "", isRemote: Bool = false) {
        self.traceID = traceID
        self.spanID = spanID
        self.traceFlags = traceFlags
        self.traceState = traceState
        self.isRemote = isRemote
    }

    /// Both ids are valid.
    public var isValid: Bool { traceID.isValid && spanID.isValid }
    public var isSampled: Bool { traceFlags.contains(.sampled) }
}

/// Fast, lock-free random id source: a SplitMix64 stream over one atomic counter seeded from the
/// system generator. Each call is one relaxed atomic add plus a few multiplies; distinct calls
/// never return the same 64-bit value within 2^64 calls (SplitMix64 is a bijection of the counter).
/// Not cryptographically secure, which ids do not need.
public enum IDGenerator {
    /// SplitMix64's increment (the golden ratio in 64 bits).
    @usableFromInline static var gamma: UInt64 { 0x9E37_79B9_7F4A_7C15 }

    /// SplitMix64's output function: a bijection, so distinct counter values give distinct outputs.
    @inlinable @inline(__always)
    static func mix(_ counter: UInt64) -> UInt64 {
        var z = counter
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` consecutive counter values of this thread's generator; returns the first.
    ///
    /// Each thread steps a counter of its own (thread-local, so no atomic operation: one shared
    /// counter would make every span a locked add, and with several producer threads a cache line
    /// they all fight over). A thread's counter starts at a value from the system's random
    /// source, so the threads' sequences are independent random walks through the 2^64 values.
    @inlinable @inline(__always)
    static func reserve(_ count: UInt64) -> UInt64 {
        let counter = otlp_thread_id_counter_address()
        var current = counter.pointee
        if current == 0 { current = randomStart() }
        counter.pointee = current &+ gamma &* count
        return current &+ gamma
    }

    /// A random non-zero start for a thread's counter (0 marks a thread that has none yet).
    @usableFromInline @inline(never)
    static func randomStart() -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        while true {
            let start = generator.next()
            if start != 0 { return start }
        }
    }

    /// A random, non-zero 64-bit value.
    @inlinable
    public static func next64() -> UInt64 {
        while true {
            let z = mix(reserve(1))
            if z != 0 { return z }
        }
    }

    @inlinable public static func traceID() -> TraceID {
        let first = reserve(2)
        let high = mix(first), low = mix(first &+ gamma)
        // An all-zero id is invalid; with 2^-128 odds, draw again.
        return high | low != 0 ? TraceID(high: high, low: low) : traceID()
    }

    @inlinable public static func spanID() -> SpanID { SpanID(next64()) }

    /// A new trace id and span id from one step of this thread's counter (a root span's ids).
    @inlinable @inline(__always)
    public static func traceAndSpanID() -> (TraceID, SpanID) {
        let first = reserve(3)
        let high = mix(first), low = mix(first &+ gamma), span = mix(first &+ gamma &* 2)
        guard high | low != 0, span != 0 else { return (traceID(), spanID()) }
        return (TraceID(high: high, low: low), SpanID(span))
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

private func hex64(_ value: UInt64) -> String {
    String(unsafeUninitializedCapacity: 16) { buffer in
        for index in 0..<16 {
            buffer[index] = hexDigits[Int((value >> UInt64(60 - 4 * index)) & 0xF)]
        }
        return 16
    }
}

private func parseHex64<C: Collection>(_ digits: C) -> UInt64? where C.Element == UInt8 {
    var value: UInt64 = 0
    for digit in digits {
        let nibble: UInt8
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
        default: return nil
        }
        value = value << 4 | UInt64(nibble)
    }
    return value
}


private func bytesToUInt64(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.reduce(0) { $0 << 8 | UInt64($1) }
}
