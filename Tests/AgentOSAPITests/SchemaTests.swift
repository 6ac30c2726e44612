import AgentOSAPI
import AgentOSWire
import Foundation
import Testing

/// The API document's schemas come from the types, and the types write the bytes the API
/// always wrote.
@Suite struct SchemaTests {
    @Test func aTypeIsRecordedWithItsKeysTypesAndWhichAreRequired() throws {
        let recorder = SchemaRecorder()
        #expect(try recorder.schema(for: Schemas.Job.self) == ["$ref": "#/components/schemas/Job"])
        let job = try #require(recorder.components["Job"]?.objectValue)
        let properties = try #require(job["properties"]?.objectValue)
        #expect(properties["id"] == ["type": "string"])
        #expect(properties["status"] == ["type": "string", "enum": ["queued", "running", "succeeded", "failed", "timed_out", "cancelled"]])
        #expect(properties["error"] == ["type": "string", "nullable": true])
        #expect(properties["started_at"] == ["type": "string", "format": "date-time", "nullable": true])
        #expect(properties["inputs"] == ["type": "object"])
        #expect(properties["result"] == [:])
        #expect(properties["labels"] == ["type": "array", "items": ["type": "string"]])
        #expect(properties["limits"] == ["$ref": "#/components/schemas/Limits"])
        #expect(properties["files"] == ["type": "array", "items": ["$ref": "#/components/schemas/JobFileRef"]])
        let required = Set((job["required"]?.arrayValue ?? []).compactMap(\.stringValue))
        #expect(required.isSuperset(of: ["id", "status", "error", "started_at", "result", "limits"]), "nullable fields are always written")
        #expect(required.isDisjoint(with: ["files", "warnings", "client_run_id", "device"]), "optional ones are not")
        #expect(recorder.components["Limits"]?["properties"]?["memory_mb"] == ["type": "integer", "nullable": true])
        #expect(recorder.components["JobFileRef"] != nil)
    }

    @Test func fieldSchemasAndLeafShapesAreMerged() throws {
        let recorder = SchemaRecorder()
        _ = try recorder.schema(for: Schemas.CreateUserRequest.self)
        let user = try #require(recorder.components["CreateUserRequest"])
        #expect(user["properties"]?["password"] == ["type": "string", "minLength": 8, "maxLength": 72])
        #expect(user["properties"]?["role"] == ["type": "string", "enum": ["admin", "user"]])
        #expect(user["required"] == ["email", "password"])
        _ = try recorder.schema(for: Schemas.RunsRequest.self)
        #expect(recorder.components["RunRecord"] != nil, "a leaf's dependencies are recorded")
        #expect(try recorder.schema(for: [String: Int].self) == ["type": "object", "additionalProperties": ["type": "integer"]])
    }

    @Test func nullableFieldsAreWrittenAsNullAndOptionalOnesLeftOut() throws {
        let created = Date(timeIntervalSince1970: 1_767_225_600.123_4)
        let token = Schemas.PersonalToken(id: "t", name: "ci", prefix: "aos_pat_abc", createdAt: created, revoked: false)
        let text = String(decoding: try APICoding.encode(token), as: UTF8.self)
        #expect(text == #"{"created_at":"2026-01-01T00:00:00.123Z","expires_at":null,"id":"t","last_used_at":null,"name":"ci","prefix":"aos_pat_abc","revoked":false,"revoked_at":null}"#)
        let back = try APICoding.decode(Schemas.PersonalToken.self, from: Data(text.utf8))
        #expect(try APICoding.encode(back) == APICoding.encode(token), "read back, it writes the same bytes")
        // Absent or null: both read as no value.
        let absent = try APICoding.decode(Schemas.PersonalToken.self, from: Data(#"{"created_at":"2026-01-01T00:00:00Z","id":"t","name":"n","prefix":"p","revoked":true}"#.utf8))
        #expect(absent.expiresAt == nil && absent.revoked)
    }

    @Test func numbersAndTextAreWrittenAsJSONValueWritesThem() throws {
        let limits = Schemas.Limits(timeoutSeconds: 60, maxOutputKB: 1024, memoryMB: nil, network: false)
        let value: JSONValue = ["timeout_s": 60, "max_output_kb": 1024, "memory_mb": .null, "network": false]
        #expect(try APICoding.encode(limits) == value.encoded())
        let fractional = Schemas.Limits(timeoutSeconds: 0.5, maxOutputKB: 1, memoryMB: 16, network: true)
        #expect(try APICoding.encode(fractional) == (["timeout_s": 0.5, "max_output_kb": 1, "memory_mb": 16, "network": true] as JSONValue).encoded())
        let path = Schemas.Cluster(bus: ["tcp://10.0.0.1:5555"], curvePublicKey: nil, heartbeatMS: 1000, serverVersion: "1/2")
        #expect(String(decoding: try APICoding.encode(path), as: UTF8.self).contains(#""tcp://10.0.0.1:5555""#), "slashes unescaped")
    }

    @Test func decodingErrorsNameTheField() throws {
        func failure(_ json: String) -> String {
            do {
                _ = try APICoding.decode(Schemas.JobSubmit.self, from: Data(json.utf8))
                return "decoded"
            } catch {
                return error.description
            }
        }
        #expect(failure(#"{"limits": {"timeout_s": "x"}}"#) == "limits.timeout_s must be a number")
        #expect(failure(#"{"files": ["a", {"name": "b"}]}"#).hasPrefix("files[1]"))
        #expect(failure(#"{"code": 5}"#) == "code must be a string")
        #expect(failure("[1]") == "the request body must be a JSON object")
        #expect(failure("{nope").contains("not valid JSON"))
        #expect(failure(#"{"target": "moon"}"#) == "target must be one of cloud, private")
    }

    @Test func bodiesOfSeveralShapesReadAsOne() throws {
        let one = try APICoding.decode(Schemas.RunsRequest.self, from: Data(#"{"id": "r1", "status": "succeeded"}"#.utf8))
        let many = try APICoding.decode(Schemas.RunsRequest.self, from: Data(#"[{"id": "r1", "status": "succeeded"}, {"id": "r2", "status": "failed"}]"#.utf8))
        let wrapped = try APICoding.decode(Schemas.RunsRequest.self, from: Data(#"{"runs": [{"id": "r1", "status": "succeeded"}]}"#.utf8))
        #expect(one.runs.map(\.id) == ["r1"] && many.runs.map(\.id) == ["r1", "r2"] && wrapped.runs.map(\.id) == ["r1"])
        let files = try APICoding.decode([Schemas.FileSelection].self, from: Data(#"["a", {"id": "b", "name": "x.csv"}]"#.utf8))
        #expect(files == [Schemas.FileSelection(id: "a"), Schemas.FileSelection(id: "b", name: "x.csv")])
        let requirements = try APICoding.decode([Schemas.Requirements].self, from: Data(#"["numpy\npandas", ["numpy", "pandas"]]"#.utf8))
        #expect(requirements.map(\.text) == ["numpy\npandas", "numpy\npandas"])
    }
}
