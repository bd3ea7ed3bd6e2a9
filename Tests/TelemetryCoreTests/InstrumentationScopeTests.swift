import Testing
import TelemetryCore

@Suite("InstrumentationScope")
struct InstrumentationScopeTests {
    @Test func changingACopyLeavesTheOriginalAsItWas() {
        let original = InstrumentationScope(name: "a", version: "1", attributes: [Attribute("k", "v")])
        var copy = original
        copy.name = "b"
        copy.version = nil
        copy.attributes.append(Attribute("k2", 2))
        #expect(original.name == "a")
        #expect(original.version == "1")
        #expect(original.attributes == [Attribute("k", "v")])
        #expect(copy.name == "b")
        #expect(copy.version == nil)
        #expect(copy.attributes == [Attribute("k", "v"), Attribute("k2", 2)])
        #expect(copy != original)
    }

    @Test func separatelyBuiltEqualScopesAreEqualAndHashAlike() {
        let first = InstrumentationScope(name: "lib", version: "2.0", attributes: [Attribute("x", true)])
        let second = InstrumentationScope(name: "lib", version: "2.0", attributes: [Attribute("x", true)])
        #expect(!first.isIdentical(to: second))
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(Set([first, second]).count == 1)
        #expect(InstrumentationScope(name: "lib", version: "2.1", attributes: [Attribute("x", true)]) != first)
        #expect(InstrumentationScope(name: "lib", version: "2.0") != first)
    }

    @Test func copiesShareTheirStorageUntilChanged() {
        let scope = InstrumentationScope(name: "shared")
        var copy = scope
        #expect(copy.isIdentical(to: scope))
        copy.name = "shared"
        #expect(!copy.isIdentical(to: scope))
        #expect(copy == scope)
    }
}
