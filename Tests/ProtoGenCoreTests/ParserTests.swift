import ProtoGenCore
import Testing

/// The proto3 parser: every construct it must accept, and errors with file:line:column.
@Suite struct ParserTests {
    static let everything = """
        // A line comment.
        syntax = "proto3";
        /* A block
           comment. */
        package test.pkg.v1;

        import "other.proto";
        import public "pub.proto";
        option java_package = "io.test";
        option (my.custom).field = { a: 1 b: "x" };
        option optimize_for = SPEED;

        message Outer {
          option deprecated = true;
          reserved 2, 15, 9 to 11, 40 to max;
          reserved "old_name", "older";
          enum Kind {
            option allow_alias = true;
            KIND_UNSPECIFIED = 0;
            KIND_A = 1;
            KIND_ALIAS = 1 [deprecated = true];
            KIND_NEGATIVE = -3;
            reserved 5 to 7;
          }
          message Inner { sint64 x = 1; Outer.Kind kind = 2; }
          double d = 1;
          float f = 3;
          int32 i32 = 4;
          int64 i64 = 5;
          uint32 u32 = 6;
          uint64 u64 = 7;
          sint32 s32 = 8;
          sint64 s64 = 12;
          fixed32 fx32 = 13;
          fixed64 fx64 = 14;
          sfixed32 sfx32 = 16;
          sfixed64 sfx64 = 17;
          bool b = 18;
          string s = 19;
          bytes by = 20;
          repeated int32 packed_ints = 21;
          repeated int32 unpacked_ints = 22 [packed = false];
          optional double maybe = 23;
          Inner inner = 24;
          .test.pkg.v1.Outer.Inner qualified = 25;
          map<string, Inner> by_name = 26;
          oneof choice {
            string text = 27;
            Inner nested = 28 [json_name = "nestedChoice"];
          }
          Other other = 29;
          Public pub = 30;
          int32 hex = 0x1F;
        }

        service Svc {
          option deprecated = false;
          rpc Unary(Outer) returns (Outer.Inner);
          rpc Streams(stream Outer) returns (stream Outer) { option deprecated = true; }
        }
        """

    static func schema(_ main: String) throws(ProtoGenError) -> ProtoSchema {
        try ProtoSchema(sources: [
            ("main.proto", main),
            ("other.proto", "syntax = \"proto3\"; package test.pkg.v1; message Other {}"),
            ("pub.proto", "syntax = \"proto3\"; package test.pkg.v1; message Public {}"),
        ])
    }

    @Test func parsesEveryProto3Construct() throws {
        let schema = try Self.schema(Self.everything)
        let file = try #require(schema.file("main.proto"))
        #expect(file.package == "test.pkg.v1")
        #expect(file.imports.map(\.path) == ["other.proto", "pub.proto"])
        #expect(file.imports.map(\.kind) == [.normal, .public])
        #expect(file.options.map(\.name) == ["java_package", "(my.custom).field", "optimize_for"])
        let outer = try #require(file.messages.first)
        #expect(outer.reservedRanges == [.init(lower: 2, upper: 2), .init(lower: 15, upper: 15), .init(lower: 9, upper: 11),
                                         .init(lower: 40, upper: ProtoParser.maxFieldNumber)])
        #expect(outer.reservedNames == ["old_name", "older"])
        #expect(outer.enums.first?.values.map(\.number) == [0, 1, 1, -3])
        #expect(outer.messages.first?.fields.map(\.type) == [.scalar(.sint64), .enumeration("test.pkg.v1.Outer.Kind")])
        let byName = Dictionary(uniqueKeysWithValues: outer.fields.map { ($0.name, $0) })
        for scalar in ProtoScalar.allCases {
            #expect(outer.fields.contains { $0.type == .scalar(scalar) && $0.label == .singular }, "\(scalar)")
        }
        #expect(byName["packed_ints"]?.isPacked == true)
        #expect(byName["unpacked_ints"]?.isPacked == false)
        #expect(byName["maybe"]?.label == .optional)
        #expect(byName["inner"]?.type == .message("test.pkg.v1.Outer.Inner"))
        #expect(byName["qualified"]?.type == .message("test.pkg.v1.Outer.Inner"))
        #expect(byName["by_name"]?.type == .map(key: .string, value: .message("test.pkg.v1.Outer.Inner")))
        #expect(byName["text"]?.oneofIndex == 0 && byName["nested"]?.oneofIndex == 0)
        #expect(byName["nested"]?.jsonName == "nestedChoice")
        #expect(byName["packed_ints"]?.jsonName == "packedInts")
        #expect(byName["other"]?.type == .message("test.pkg.v1.Other"))
        #expect(byName["hex"]?.number == 31)
        #expect(outer.oneofs.map(\.name) == ["choice"])
        let service = try #require(file.services.first)
        #expect(service.methods.map(\.name) == ["Unary", "Streams"])
        #expect(service.methods[0].outputType == "test.pkg.v1.Outer.Inner")
        #expect(service.methods[1].clientStreaming && service.methods[1].serverStreaming)
        #expect(!service.methods[0].clientStreaming && !service.methods[0].serverStreaming)
    }

    /// Each case: source, expected "line:column", and a fragment of the message.
    static let malformed: [(String, String, String)] = [
        ("package x;", "1:1", "syntax = \"proto3\""),
        ("syntax = \"proto2\";", "1:10", "only syntax = \"proto3\""),
        ("syntax = \"proto3\";\nmessage M {\n  int32 a = 1\n}", "4:1", "expected ';' after field 'a'"),
        ("syntax = \"proto3\";\nmessage M {\n  int32 a = 1;\n  int32 b = 1;\n}", "4:3", "field number 1 of 'b' is already used by 'a'"),
        ("syntax = \"proto3\";\nmessage M { int32 a = 0; }", "2:23", "field number 0 is out of range"),
        ("syntax = \"proto3\";\nmessage M { int32 a = 19001; }", "2:23", "reserved for the protobuf implementation"),
        ("syntax = \"proto3\";\nmessage M { reserved 3 to 5; int32 a = 4; }", "2:30", "which is reserved"),
        ("syntax = \"proto3\";\nmessage M { reserved \"a\"; int32 a = 1; }", "2:27", "field name 'a' is reserved"),
        ("syntax = \"proto3\";\nmessage M { Missing m = 1; }", "2:13", "unknown type 'Missing'"),
        ("syntax = \"proto3\";\nmessage M { required int32 a = 1; }", "2:13", "'required' is not allowed in proto3"),
        ("syntax = \"proto3\";\nenum E { E_A = 1; }", "2:10", "first value of proto3 enum 'E' must be 0"),
        ("syntax = \"proto3\";\nenum E { E_A = 0; E_B = 0; }", "2:19", "reuses number 0"),
        ("syntax = \"proto3\";\nmessage M {\n  map<double, string> m = 1;\n}", "3:7", "map keys must be"),
        ("syntax = \"proto3\";\nmessage M { oneof o { repeated int32 a = 1; } }", "2:23", "oneof members cannot be 'repeated'"),
        ("syntax = \"proto3\";\nmessage M { string s = 1 [packed = true]; }", "2:13", "[packed] applies only"),
        ("syntax = \"proto3\";\nmessage M {\n  int32 a = 1;", "3:15", "message 'M' is not closed"),
        ("syntax = \"proto3\";\nmessage M { string s = \"x; }", "2:24", "unterminated string literal"),
        ("syntax = \"proto3\";\n/* never closed", "2:1", "unterminated /* comment"),
        ("syntax = \"proto3\";\nmessage M { int32 a = 1; } @", "2:28", "unexpected character '@'"),
        ("syntax = \"proto3\";\nservice S { rpc M(A) (B); }", "2:22", "expected 'returns'"),
        ("syntax = \"proto3\";\nimport \"nowhere.proto\";", "2:1", "imported file 'nowhere.proto' was not loaded"),
        ("syntax = \"proto3\";\nmessage M { Hidden h = 1; }\nmessage N {}", "2:13", "unknown type 'Hidden'"),
        ("syntax = \"proto3\";\nmessage M { message M2 {} enum M2 { X = 0; } }", "2:27", "'M2' is already defined"),
        ("syntax = \"proto3\";\nmessage M { int32 a_b = 1; int32 aB = 2; }", "2:28", "same JSON name"),
    ]

    @Test(arguments: 0..<malformed.count)
    func malformedProtoIsReportedWithFileLineColumnAndWhatIsWrong(index: Int) {
        let (source, position, fragment) = Self.malformed[index]
        do {
            _ = try ProtoSchema(sources: [("dir/bad.proto", source)])
            Issue.record("no error for case \(index): \(source)")
        } catch {
            #expect(error.description.hasPrefix("dir/bad.proto:\(position): error: "), "\(error)")
            #expect(error.description.contains(fragment), "\(error)")
        }
    }

    @Test func typeFromAFileThatIsNotImportedIsAnError() {
        do {
            _ = try ProtoSchema(sources: [
                ("a.proto", "syntax = \"proto3\";\npackage p;\nmessage A { B b = 1; }"),
                ("b.proto", "syntax = \"proto3\";\npackage p;\nmessage B {}"),
            ])
            Issue.record("no error")
        } catch {
            #expect(error.description == "a.proto:3:13: error: type 'B' is defined in 'b.proto', which is not imported")
        }
    }
}
