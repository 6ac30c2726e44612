import AgentOSTestSupport
import AgentOSWire
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `agentos store copy` with real processes: a server's SQLite data, populated through the
/// API, copied into PostgreSQL, gives the same API answers from a server on PostgreSQL.
@Suite(.serialized) struct StoreCopyTests {
    @Test func aCopiedStoreAnswersTheSameAndKeepsWorking() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot(workers: ["copy-worker": 2])
        func post(_ path: String, _ body: JSONValue) async throws -> JSONValue {
            let (status, answer) = try await cluster.http("POST", path, body: body, token: token)
            #expect((200..<300).contains(status), "\(path): \(status) \(answer)")
            return answer
        }

        // Something of every kind the store keeps.
        _ = try await post("/api/v1/users", ["email": "bob@example.com", "password": "bob-pass-1", "name": "Bob"])
        _ = try await post("/api/v1/teams", ["name": "Ops"])
        _ = try await post("/api/v1/projects", ["name": "second", "team": "Ops"])
        _ = try await post("/api/v1/projects/default/skills", ["name": "sum", "code": .string(EndToEndTests.sumCode)])
        _ = try await post("/api/v1/projects/default/skills/sum/versions", ["code": "def main(n):\n    return n\n"])
        _ = try await post("/api/v1/projects/default/providers", [
            "name": "openai", "kind": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-copy", "models": ["gpt-4o"],
        ])
        _ = try await post("/api/v1/projects/default/agents", ["name": "helper", "provider": "openai", "model": "gpt-4o"])
        let session = try await post("/api/v1/projects/default/sessions", ["title": "chat"])
        let sessionID = try #require(session["id"]?.stringValue)
        _ = try await post("/api/v1/sessions/\(sessionID)/messages", ["role": "user", "content": "hello"])
        _ = try await post("/api/v1/tokens", ["name": "ci"])
        let bytes = Data("a,b\n1,2\n".utf8)
        let (uploaded, file) = try await cluster.upload("/api/v1/projects/default/files?name=data.csv", data: bytes, token: token)
        #expect(uploaded == 201)
        let fileID = try #require(file["id"]?.stringValue)
        var jobIDs: [String] = []
        for n in [10, 20] {
            let job = try await post("/api/v1/projects/default/jobs?wait=30", ["skill": "sum", "inputs": ["n": .number(Double(n))]])
            jobIDs.append(try #require(job["id"]?.stringValue))
        }
        let withFile = try await post(
            "/api/v1/projects/default/jobs?wait=30",
            ["code": "def main():\n    return open('files/data.csv').read()", "files": [.string(fileID)]])
        #expect(withFile["result"] == "a,b\n1,2\n")
        jobIDs.append(try #require(withFile["id"]?.stringValue))

        let paths = [
            "/api/v1/me", "/api/v1/users", "/api/v1/teams", "/api/v1/teams/Ops", "/api/v1/projects", "/api/v1/projects/default",
            "/api/v1/projects/second", "/api/v1/projects/default/skills", "/api/v1/projects/default/skills/sum",
            "/api/v1/projects/default/skills/sum/versions", "/api/v1/projects/default/skills/sum/versions/1",
            "/api/v1/projects/default/providers", "/api/v1/projects/default/agents", "/api/v1/projects/default/agents/helper/versions",
            "/api/v1/projects/default/sessions", "/api/v1/sessions/\(sessionID)/messages", "/api/v1/projects/default/files",
            "/api/v1/files/\(fileID)", "/api/v1/tokens", "/api/v1/worker-tokens", "/api/v1/projects/default/jobs?limit=200",
            "/api/v1/audit?limit=200",
        ] + jobIDs.map { "/api/v1/jobs/\($0)" }
        var before: [String: JSONValue] = [:]
        for path in paths {
            let (status, answer) = try await cluster.http("GET", path, token: token)
            #expect(status == 200, "\(path): \(answer)")
            before[path] = answer
        }

        // Stopped, copied, started on PostgreSQL with the same data directory (its keys).
        try await cluster.kill("server", signal: SIGTERM)
        let url = try await StoreEngine.newPostgresDatabase()
        let (copied, output) = try await cluster.runCommand("copy", [
            "store", "copy", "--from", "sqlite:" + cluster.dataDirectory + "/agentos.sqlite", "--to", url,
        ])
        #expect(copied == 0, "\(output)")
        print("StoreCopyTests: agentos store copy said:\n\(output)")
        #expect(output.contains("every table checks out"), "\(output)")
        #expect(!output.contains("DIFFERS"), "\(output)")
        let (again, refused) = try await cluster.runCommand("copy-again", [
            "store", "copy", "--from", "sqlite:" + cluster.dataDirectory + "/agentos.sqlite", "--to", url,
        ])
        #expect(again == 1 && refused.contains("already has users"), "a second copy is refused: \(refused)")

        cluster.store = url
        try await cluster.startServer()
        try await cluster.waitUntilHealthy()
        for path in paths {
            let (status, answer) = try await cluster.http("GET", path, token: token)
            #expect(status == 200 && answer == before[path], "\(path) answers the same after the copy:\nbefore \(before[path] ?? .null)\nafter  \(answer)")
        }
        var request = URLRequest(url: URL(string: cluster.gatewayURL + "/api/v1/files/\(fileID)/content")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        #expect(try await URLSession.shared.data(for: request).0 == bytes, "the file's bytes came along")

        // And it goes on working: the copied skill, file and worker token run a job.
        try await cluster.waitForWorkers(["copy-worker"], token: token)
        let next = try await post(
            "/api/v1/projects/default/jobs?wait=30",
            ["code": "def main():\n    return open('files/data.csv').read().upper()", "files": [.string(fileID)]])
        #expect(next["result"] == "A,B\n1,2\n", "\(next)")
        let bySkill = try await post("/api/v1/projects/default/jobs?wait=30", ["skill": "sum", "inputs": ["n": 5]])
        #expect(bySkill["result"] == 5 && bySkill["version"] == 2, "\(bySkill)")
    }
}
