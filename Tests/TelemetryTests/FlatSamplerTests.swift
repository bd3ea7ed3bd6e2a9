@testable import Telemetry
import Testing
import TelemetryCore
import TelemetryPipeline

/// The tracer decides with a flattened copy of its sampler; it must agree with ``Sampler`` itself.
@Suite("Flattened sampler")
struct FlatSamplerTests {
    static let samplers: [Sampler] = [
        .alwaysOn, .alwaysOff, .traceIDRatio(0), .traceIDRatio(0.25), .traceIDRatio(1), .default,
        .parentBased(root: .traceIDRatio(0.5)),
        .parentBased(root: .alwaysOff, remoteParentSampled: .alwaysOff, remoteParentNotSampled: .alwaysOn,
                     localParentSampled: .traceIDRatio(0.3), localParentNotSampled: .alwaysOn),
        .parentBased(root: .parentBased(root: .traceIDRatio(0.7)),
                     remoteParentSampled: .parentBased(root: .alwaysOn, remoteParentSampled: .alwaysOff),
                     localParentNotSampled: .parentBased(root: .alwaysOff, localParentNotSampled: .traceIDRatio(0.9))),
    ]

    @Test("every decision equals the sampler's, for roots and each kind of parent", arguments: samplers)
    func flattenedDecisionsEqualTheSamplers(sampler: Sampler) {
        let flat = FlatSampler(sampler)
        var parents: [SpanContext?] = [nil]
        for remote in [false, true] {
            for sampled in [false, true] {
                parents.append(SpanContext(traceID: TraceID(high: 1, low: 2), spanID: SpanID(3),
                                           traceFlags: sampled ? .sampled : [], isRemote: remote))
            }
        }
        for step in 0..<500 {
            // Spread trace ids over the whole 56-bit ratio range.
            let traceID = TraceID(high: UInt64(step), low: UInt64(step) &* 0x0000_8000_0000_0001 &* 36_028_797_018_963)
            for parent in parents {
                #expect(flat.shouldSample(parent: parent, traceID: traceID)
                            == sampler.shouldSample(parent: parent, traceID: traceID))
            }
        }
    }
}
