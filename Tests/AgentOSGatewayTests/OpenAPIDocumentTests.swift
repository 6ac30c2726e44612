import AgentOSAPI
import AgentOSWire
import Testing

@Suite struct OpenAPIDocumentTests {
    @Test func theEventStreamNamesASchemaForEveryEvent() throws {
        let document = OpenAPIDocument.json
        let stream = try #require(document["paths"]?["/api/v1/jobs/{id}/events"]?["get"]?["responses"]?["200"]?["content"]?["text/event-stream"])
        let events = try #require(stream["x-events"]?.objectValue)
        #expect(Set(events.keys) == ["status", "output", "result", "error"])
        for (event, schema) in events {
            let name = try #require(schema["$ref"]?.stringValue?.split(separator: "/").last.map(String.init), "\(event)")
            #expect(document["components"]?["schemas"]?[name] != nil, "\(event): \(name) is not a component")
        }
    }

    @Test func errorStatusesTheServerAnswersAreDeclared() throws {
        for (operation, status) in [(APIOperation.login, 401), (.refresh, 401), (.createProject, 404), (.revealProvider, 409), (.submitJob, 429), (.cancelJob, 409)] {
            #expect(operation.errorStatuses.contains(status), "\(operation) \(status)")
        }
    }
}
