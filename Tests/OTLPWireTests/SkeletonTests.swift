import Testing
@testable import OTLPWire

@Test func skeletonBuilds() { #expect(1 + 1 == 2) }
