import TelemetryCore
import TelemetryPipeline

/// The outcome of a sampling decision.
public enum SamplingDecision: Sendable, Hashable {
    /// Not recorded, not exported.
    case drop
    /// Recorded (attributes etc. kept) but not exported and not marked sampled.
    case recordOnly
    /// Recorded, exported and marked sampled.
    case recordAndSample
}

/// Built-in samplers (https://opentelemetry.io/docs/specs/otel/trace/sdk/#built-in-samplers).
public indirect enum Sampler: Sendable, Hashable {
    case alwaysOn
    case alwaysOff
    /// Samples a fraction of traces, deterministically by trace id: the lowest 56 bits of the
    /// trace id, read as an integer, are compared with `ratio × 2^56` (the W3C-random bits).
    case traceIDRatio(Double)
    /// Follows the parent's sampled flag; `root` decides for spans without a parent.
    case parentBased(
        root: Sampler, remoteParentSampled: Sampler = .alwaysOn, remoteParentNotSampled: Sampler = .alwaysOff,
        localParentSampled: Sampler = .alwaysOn, localParentNotSampled: Sampler = .alwaysOff)

    /// The SDK's default: `parentBased(root: .alwaysOn)`.
    public static let `default` = Sampler.parentBased(root: .alwaysOn)

    /// Decides for a new span of trace `traceID` under `parent` (nil or invalid: a root span).
    @inlinable
    public func shouldSample(parent: SpanContext?, traceID: TraceID) -> SamplingDecision {
        switch self {
        case .alwaysOn:
            return .recordAndSample
        case .alwaysOff:
            return .drop
        case .traceIDRatio(let ratio):
            if ratio >= 1 { return .recordAndSample }
            if ratio <= 0 { return .drop }
            let threshold = UInt64(ratio * 72_057_594_037_927_936)  // ratio × 2^56
            return (traceID.low & 0x00FF_FFFF_FFFF_FFFF) < threshold ? .recordAndSample : .drop
        case .parentBased(let root, let remoteSampled, let remoteNotSampled, let localSampled, let localNotSampled):
            guard let parent, parent.isValid else { return root.shouldSample(parent: nil, traceID: traceID) }
            let delegate: Sampler
            switch (parent.isRemote, parent.isSampled) {
            case (true, true): delegate = remoteSampled
            case (true, false): delegate = remoteNotSampled
            case (false, true): delegate = localSampled
            case (false, false): delegate = localNotSampled
            }
            return delegate.shouldSample(parent: parent, traceID: traceID)
        }
    }
}

/// A ``Sampler`` flattened for the span-start hot path: the same decisions, with no recursion and
/// no reference-counted boxes (an `indirect` enum retains and releases each nested sampler it
/// matches, several atomic operations per span).
///
/// A parent-based sampler nested inside another one, seen with the same parent, always delegates
/// the same way, so every chain ends in one of three leaves per parent kind.
@usableFromInline
struct FlatSampler: Sendable {
    @usableFromInline
    enum Leaf: Sendable {
        case on
        case off
        /// Samples when the lowest 56 bits of the trace id are below this threshold.
        case ratio(threshold: UInt64)

        @inlinable
        func decide(_ traceID: TraceID) -> SamplingDecision {
            switch self {
            case .on: return .recordAndSample
            case .off: return .drop
            case .ratio(let threshold):
                return (traceID.low & 0x00FF_FFFF_FFFF_FFFF) < threshold ? .recordAndSample : .drop
            }
        }
    }

    @usableFromInline let root: Leaf
    @usableFromInline let remoteSampled: Leaf
    @usableFromInline let remoteNotSampled: Leaf
    @usableFromInline let localSampled: Leaf
    @usableFromInline let localNotSampled: Leaf

    init(_ sampler: Sampler) {
        root = Self.leaf(sampler, parent: nil)
        remoteSampled = Self.leaf(sampler, parent: (remote: true, sampled: true))
        remoteNotSampled = Self.leaf(sampler, parent: (remote: true, sampled: false))
        localSampled = Self.leaf(sampler, parent: (remote: false, sampled: true))
        localNotSampled = Self.leaf(sampler, parent: (remote: false, sampled: false))
    }

    /// Follows `sampler` for a parent of the given kind (nil: no valid parent) down to a leaf,
    /// exactly as ``Sampler/shouldSample(parent:traceID:)`` does.
    private static func leaf(_ sampler: Sampler, parent: (remote: Bool, sampled: Bool)?) -> Leaf {
        switch sampler {
        case .alwaysOn: return .on
        case .alwaysOff: return .off
        case .traceIDRatio(let ratio):
            if ratio >= 1 { return .on }
            if ratio <= 0 { return .off }
            return .ratio(threshold: UInt64(ratio * 72_057_594_037_927_936))  // ratio × 2^56
        case .parentBased(let root, let remoteSampled, let remoteNotSampled, let localSampled, let localNotSampled):
            guard let parent else { return leaf(root, parent: nil) }
            switch (parent.remote, parent.sampled) {
            case (true, true): return leaf(remoteSampled, parent: parent)
            case (true, false): return leaf(remoteNotSampled, parent: parent)
            case (false, true): return leaf(localSampled, parent: parent)
            case (false, false): return leaf(localNotSampled, parent: parent)
            }
        }
    }

    /// The decision for a new span of `traceID` under `parent` (nil: a root span; must be valid otherwise).
    @inlinable
    func shouldSample(parent: SpanContext?, traceID: TraceID) -> SamplingDecision {
        guard let parent else { return root.decide(traceID) }
        switch (parent.isRemote, parent.isSampled) {
        case (true, true): return remoteSampled.decide(traceID)
        case (true, false): return remoteNotSampled.decide(traceID)
        case (false, true): return localSampled.decide(traceID)
        case (false, false): return localNotSampled.decide(traceID)
        }
    }
}
