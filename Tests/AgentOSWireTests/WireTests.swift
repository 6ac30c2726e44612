import AgentOSWire
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func numbersStayNumbersAndBooleansStayBooleans() throws {
        let parsed = try JSONValue.parse(Data(#"[1, 0, true, false, 1.5, "x", null, {"a": [2]}]"#.utf8))
        #expect(parsed == [1, 0, true, false, 1.5, "x", nil, ["a": [2]]])
        #expect(parsed.encodedString() == #"[1,0,true,false,1.5,"x",null,{"a":[2]}]"#)
    }

    @Test func objectKeysAreKeptAsWrittenAndSorted() throws {
        let parsed = try JSONValue.parse(Data(#"{"snake_case": 1, "camelCase": 2}"#.utf8))
        #expect(parsed.encodedString() == #"{"camelCase":2,"snake_case":1}"#)
    }

    @Test func garbageIsAnError() {
        #expect(throws: (any Error).self) { try JSONValue.parse(Data("{nope".utf8)) }
        #expect(throws: (any Error).self) { try JSONValue.parse(Data()) }
    }
}

@Suite struct BusMessageTests {
    let tag = Array(Bus.protocolTag.utf8)

    @Test func roundTripsThroughFrames() throws {
        let outcome = JobOutcome(jobID: "j", attempt: 2, status: .timedOut, result: ["k": "v"], stdout: "o", error: "timed_out")
        let message = BusMessage(.result, outcome)
        let decoded = try BusMessage(frames: message.frames[...])
        #expect(decoded.command == .result)
        #expect(try decoded.decode(JobOutcome.self) == outcome)
    }

    @Test func wireFieldsAreSnakeCase() throws {
        let body = BusMessage(.job, JobAssignment(jobID: "j", attempt: 1, code: "c", inputs: [:], limits: JobLimits(timeoutSeconds: 5, maxOutputBytes: 10))).body
        let json = try JSONValue.parse(body)
        #expect(json["job_id"] == "j")
        #expect(json["limits"]?["timeout_s"] == 5)
        #expect(json["limits"]?["max_output_bytes"] == 10)
    }

    @Test func aJobsFoldersAreSentOnlyWhenItNamesSome() throws {
        let plain = JobAssignment(jobID: "j", attempt: 1, code: "c", inputs: [:], limits: JobLimits())
        #expect(try JSONValue.parse(BusMessage(.job, plain).body)["dirs"] == nil, "an older worker sees the JOB it always saw")
        var withFolders = plain
        withFolders.dirs = ["photos", "out"]
        let body = BusMessage(.job, withFolders).body
        #expect(try JSONValue.parse(body)["dirs"] == ["photos", "out"])
        #expect(try BusMessage(frames: BusMessage(.job, withFolders).frames[...]).decode(JobAssignment.self) == withFolders)
        let older = #"{"job_id": "j", "attempt": 1, "code": "c", "inputs": {}, "limits": {"timeout_s": 60, "max_output_bytes": 1048576}}"#
        let decoded = try BusMessage(frames: [tag, Array("JOB".utf8), Array(older.utf8)][...]).decode(JobAssignment.self)
        #expect(decoded.dirs == [] && decoded.fileToken == nil)
    }

    @Test func folderNames() {
        for name in ["photos", "data-2.v1", "A_b", String(repeating: "x", count: 64), "..."] { #expect(FolderName.isValid(name), "\(name)") }
        for name in ["", ".", "..", "a/b", "a b", "ü", String(repeating: "x", count: 65), "a\u{0}", "a:rw"] { #expect(!FolderName.isValid(name), "\(name)") }
    }

    @Test(arguments: [
        [[UInt8]](),
        [Array("AOS/1".utf8)],
        [Array("AOS/2".utf8), Array("HELLO".utf8), Array("{}".utf8)],
        [Array("AOS/1".utf8), Array("EXPLODE".utf8), Array("{}".utf8)],
        [Array("AOS/1".utf8), Array("HELLO".utf8), Array("{}".utf8), Array("extra".utf8)],
    ])
    func malformedFramesAreRejected(frames: [[UInt8]]) {
        #expect(throws: BusDecodingError.self) { try BusMessage(frames: frames[...]) }
    }

    @Test func badBodyIsADecodingError() throws {
        let message = try BusMessage(frames: [tag, Array("HELLO".utf8), Array("[1]".utf8)][...])
        #expect(throws: BusDecodingError.self) { try message.decode(Hello.self) }
    }
}

@Suite struct JSONSchemaTests {
    func violation(_ schema: JSONValue, _ value: JSONValue) throws -> JSONSchema.Violation? {
        let validator = try JSONSchema(schema)
        do {
            try validator.validate(value)
            return nil
        } catch {
            return error
        }
    }

    @Test func typesRequiredAndNestedPaths() throws {
        let schema: JSONValue = [
            "type": "object", "required": ["items"],
            "properties": ["items": ["type": "array", "maxItems": 3, "items": [
                "type": "object", "required": ["name"], "properties": ["name": ["type": "string", "minLength": 1], "qty": ["type": "integer", "minimum": 1]],
            ]]],
        ]
        #expect(try violation(schema, ["items": [["name": "a", "qty": 2]]]) == nil)
        #expect(try violation(schema, [:])?.path == "/items")
        #expect(try violation(schema, ["items": [["name": "a"], ["qty": 1]]])?.path == "/items/1/name")
        #expect(try violation(schema, ["items": [["name": "a", "qty": 1.5]]])?.path == "/items/0/qty")
        #expect(try violation(schema, ["items": [["name": "a", "qty": 0]]])?.message == "must be at least 1")
        #expect(try violation(schema, ["items": [["name": ""]]])?.path == "/items/0/name")
        #expect(try violation(schema, ["items": [["name": "a"], ["name": "b"], ["name": "c"], ["name": "d"]]])?.path == "/items")
        #expect(try violation(schema, "x")?.path == "")
    }

    @Test func combinatorsEnumsPatternsAndReferences() throws {
        let schema: JSONValue = [
            "definitions": ["color": ["enum": ["red", "green"]]],
            "type": "object", "additionalProperties": false,
            "properties": [
                "color": ["$ref": "#/definitions/color"],
                "id": ["type": "string", "pattern": "^[a-z]+-[0-9]+$"],
                "size": ["anyOf": [["type": "integer"], ["type": "string", "enum": ["small", "large"]]]],
                "exact": ["oneOf": [["type": "integer"], ["type": "number", "minimum": 10]]],
                "not_null": ["not": ["type": "null"]],
                "maybe": ["type": "string", "nullable": true],
            ],
        ]
        #expect(try violation(schema, ["color": "red", "id": "ab-12", "size": "small", "exact": 12.5, "maybe": nil]) == nil)
        #expect(try violation(schema, ["color": "blue"])?.path == "/color")
        #expect(try violation(schema, ["id": "AB-12"])?.path == "/id")
        #expect(try violation(schema, ["size": "medium"])?.path == "/size")
        #expect(try violation(schema, ["exact": 12])?.path == "/exact", "12 matches both: oneOf fails")
        #expect(try violation(schema, ["not_null": nil])?.path == "/not_null")
        #expect(try violation(schema, ["extra": 1])?.path == "/extra")
        #expect(try violation(schema, ["a/b": 1])?.path == "/a~1b")
    }

    @Test func unusableSchemasAreRefused() {
        for bad: JSONValue in [
            ["type": "banana"], ["required": "x"], ["pattern": "("], ["minimum": "1"], ["properties": ["x": 5]],
            ["$ref": "http://elsewhere/schema"], ["anyOf": []], ["maxLength": -1], "string",
        ] {
            #expect(throws: JSONSchema.Invalid.self, "\(bad)") { try JSONSchema(bad) }
        }
        #expect((try? JSONSchema(true)) != nil)
    }
}
