import Testing
@testable import Telemetry

@Suite("W3C tracestate grammar, limits and the configured-tracestate upsert")
struct TracestateTests {
    // MARK: Grammar

    @Test(arguments: [
        "a=1", "congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        "a_-*/0=x", "tenant@system=v", "0tenant@sys_-*/tem=v", "a=value with spaces inside",
        " a=1 ,\tb=2 ", "a=1,,b=2", "a=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~",
    ])
    func validTracestateParses(_ header: String) throws {
        let state = try W3CTraceState(parsing: header)
        #expect(!state.isEmpty)
        // Canonical output re-parses to the same list.
        #expect(try W3CTraceState(parsing: state.headerValue) == state)
    }

    @Test(arguments: [
        ("A=1", "lower-case letter"),
        ("1a=1", "lower-case letter"),
        ("a.b=1", "outside"),
        ("a", "no '='"),
        ("=1", "empty key"),
        ("a=", "empty value"),
        ("a=1=2", "'='"),
        ("a=x ,b=1 ", ""),  // trailing blanks are OWS, so this one is valid: checked below
        ("a=é", "printable ASCII"),
        ("@sys=1", "empty tenant"),
        ("t@=1", "empty system"),
        ("t@1sys=1", "system id must start"),
        ("t@abcdefghijklmno=1", "system id longer than 14"),
        ("_t@sys=1", "tenant id must start"),
        ("t@s@x=1", "second '@'"),
        ("a=1,a=2", "appears twice"),
    ])
    func invalidTracestateIsRejectedWithReason(_ header: String, _ fragment: String) {
        if fragment.isEmpty {
            #expect(throws: Never.self) { try W3CTraceState(parsing: header) }
            return
        }
        do {
            _ = try W3CTraceState(parsing: header)
            Issue.record("'\(header)' was accepted")
        } catch {
            #expect(error.code == .invalidTracestate)
            #expect(error.reason.contains(fragment), "\(error.reason)")
        }
    }

    @Test func keyAndValueLengthLimits() {
        let key256 = "a" + String(repeating: "b", count: 255)
        #expect(W3CTraceState.keyProblem(key256) == nil)
        #expect(W3CTraceState.keyProblem(key256 + "c") != nil)
        let tenant241 = "t" + String(repeating: "0", count: 240)
        #expect(W3CTraceState.keyProblem(tenant241 + "@s") == nil)
        #expect(W3CTraceState.keyProblem(tenant241 + "0@s") != nil)
        #expect(W3CTraceState.keyProblem("t@" + "s" + String(repeating: "x", count: 13)) == nil)
        #expect(W3CTraceState.valueProblem(String(repeating: "v", count: 256)) == nil)
        #expect(W3CTraceState.valueProblem(String(repeating: "v", count: 257)) != nil)
        #expect(W3CTraceState.valueProblem(" leading-space-ok") == nil)
    }

    @Test func atMostThirtyTwoMembers() throws {
        let members32 = (0..<32).map { "k\($0)=v" }.joined(separator: ",")
        #expect(try W3CTraceState(parsing: members32).members.count == 32)
        do {
            _ = try W3CTraceState(parsing: members32 + ",k32=v")
            Issue.record("33 members accepted")
        } catch {
            #expect(error.reason.contains("33 list members"))
        }
    }

    @Test func setMovesMemberToFrontAndEnforcesLimit() throws {
        var state = try W3CTraceState(parsing: "a=1,b=2,c=3")
        try state.set("c", "9")
        #expect(state.headerValue == "c=9,a=1,b=2")
        #expect(throws: W3CTraceContextError.self) { try state.set("Bad", "1") }
        #expect(throws: W3CTraceContextError.self) { try state.set("ok", "a,b") }
        #expect(state.headerValue == "c=9,a=1,b=2")

        var full = try W3CTraceState(parsing: (0..<32).map { "k\($0)=v" }.joined(separator: ","))
        try full.set("new", "1")
        #expect(full.members.count == 32)
        #expect(full.members.first?.key == "new")
        #expect(full["k31"] == nil)  // right-most dropped
        #expect(full["k30"] == "v")
    }

    // MARK: Configured tracestate

    @Test func configuredMembersAreEncodedAsSortedFields() throws {
        let configured = try ConfiguredTraceState(["example": ["beta": "two", "alpha": "one"], "acme@vendor": ["x": "1"]])
        #expect(configured.encodedValue(of: "example") == "alpha:one;beta:two")
        #expect(configured.encodedValue(of: "acme@vendor") == "x:1")
        #expect(configured.traceState.headerValue == "acme@vendor=x:1,example=alpha:one;beta:two")
    }

    @Test(arguments: [
        (["Bad": ["a": "1"]], "tracestate member 'Bad': key must start with a lower-case letter"),
        (["ok": [:]], "tracestate member 'ok': no fields"),
        (["ok": ["": "1"]], "field '': empty field name"),
        (["ok": ["a:b": "1"]], "field 'a:b': field name may not contain"),
        (["ok": ["a;b": "1"]], "field 'a;b': field name may not contain"),
        (["ok": ["a": ""]], "field 'a': empty field value"),
        (["ok": ["a": "x;y"]], "field 'a': field value may not contain"),
        (["ok": ["a": "x,y"]], "field 'a': field value may not contain"),
        (["ok": ["a": "x=y"]], "field 'a': field value may not contain"),
        (["ok": ["a": "x y"]], "field 'a': field value may not contain"),
        (["ok": ["a": String(repeating: "v", count: 255)]], "encoded value is 257 characters"),
    ] as [([String: [String: String]], String)])
    func invalidConfigurationIsRejectedWithReason(_ config: [String: [String: String]], _ fragment: String) {
        do {
            _ = try ConfiguredTraceState(config)
            Issue.record("\(config) was accepted")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.reason.contains(fragment), "\(error.reason)")
        }
    }

    @Test func lenientValidationKeepsTheValidMembers() {
        let (configured, problems) = ConfiguredTraceState.validating([
            "good": ["a": "1"], "Bad": ["a": "1"], "half": ["ok": "1", "no": "x;y"],
        ])
        #expect(configured.members.map(\.key) == ["good"])
        #expect(problems.count == 2)
        #expect(problems.allSatisfy { $0.code == .invalidConfiguration })
    }

    @Test func valueWithColonIsAllowedInFieldValues() throws {
        let configured = try ConfiguredTraceState(["m": ["url": "a:b"]])
        #expect(configured.encodedValue(of: "m") == "url:a:b")
    }

    // MARK: Upsert table

    struct UpsertCase: Sendable, CustomTestStringConvertible {
        var name: String
        var incoming: String
        var configured: [String: [String: String]]
        var expected: String
        var testDescription: String { name }
    }

    static let upsertCases: [UpsertCase] = [
        UpsertCase(name: "no incoming state: configured members only", incoming: "",
            configured: ["example": ["alpha": "one", "beta": "two"]], expected: "example=alpha:one;beta:two"),
        UpsertCase(name: "new member goes to the front, others kept in order", incoming: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            configured: ["example": ["alpha": "one"]], expected: "example=alpha:one,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        UpsertCase(name: "existing member: configured fields replace, others kept, moved to front",
            incoming: "rojo=1,example=alpha:old;gamma:keep,congo=2",
            configured: ["example": ["alpha": "one", "beta": "two"]],
            expected: "example=alpha:one;gamma:keep;beta:two,rojo=1,congo=2"),
        UpsertCase(name: "existing member with an opaque segment keeps it",
            incoming: "example=opaque", configured: ["example": ["alpha": "one"]], expected: "example=opaque;alpha:one"),
        UpsertCase(name: "duplicate configured field in incoming member collapses to one",
            incoming: "example=alpha:1;alpha:2;z:9", configured: ["example": ["alpha": "one"]], expected: "example=alpha:one;z:9"),
        UpsertCase(name: "multi-tenant member", incoming: "acme@vendor=x:0,other=1",
            configured: ["acme@vendor": ["x": "1"]], expected: "acme@vendor=x:1,other=1"),
        UpsertCase(name: "two configured members, in key order, ahead of the rest", incoming: "zed=1,beta=keep:1",
            configured: ["beta": ["f": "2"], "alpha": ["f": "1"]], expected: "alpha=f:1,beta=keep:1;f:2,zed=1"),
        UpsertCase(name: "merged value over 256 characters drops kept fields from the right",
            incoming: "example=keep1:\(String(repeating: "a", count: 120));keep2:\(String(repeating: "b", count: 120))",
            configured: ["example": ["alpha": "one"]],
            expected: "example=keep1:\(String(repeating: "a", count: 120));alpha:one"),
        UpsertCase(name: "32 incoming members: the right-most unconfigured one is dropped",
            incoming: (0..<32).map { "k\($0)=v" }.joined(separator: ","), configured: ["example": ["a": "1"]],
            expected: (["example=a:1"] + (0..<31).map { "k\($0)=v" }).joined(separator: ",")),
        UpsertCase(name: "32 incoming members including the configured one: nothing dropped",
            incoming: (0..<31).map { "k\($0)=v" }.joined(separator: ",") + ",example=b:2", configured: ["example": ["a": "1"]],
            expected: (["example=b:2;a:1"] + (0..<31).map { "k\($0)=v" }).joined(separator: ",")),
        UpsertCase(name: "nothing configured leaves the incoming state untouched", incoming: "b=1,a=2",
            configured: [:], expected: "b=1,a=2"),
    ]

    @Test(arguments: upsertCases)
    func upsertTable(_ c: UpsertCase) throws {
        let incoming = try W3CTraceState(parsing: c.incoming)
        let configured = try ConfiguredTraceState(c.configured)
        let result = incoming.upserting(configured)
        #expect(result.headerValue == c.expected)
        // The result is always a valid tracestate.
        #expect(try W3CTraceState(parsing: result.headerValue) == result)
        #expect(result.members.count <= 32)
    }
}
