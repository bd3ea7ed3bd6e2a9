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
