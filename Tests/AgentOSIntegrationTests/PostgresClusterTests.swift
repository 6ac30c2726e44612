import AgentOSTestSupport
import AgentOSWire
import Foundation
import Testing

/// The system with its state in PostgreSQL (`agentos server --store postgres://…`), with
/// real processes: the same API answers as on SQLite, and a server that dies loses nothing.
@Suite(.serialized) struct PostgresClusterTests {
    @Test func jobsRunAndSurviveAServerKilledMidRun() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        cluster.store = try await StoreEngine.newPostgresDatabase()
        let token = try await cluster.boot(workers: ["pg-worker": 2])
        #expect(!FileManager.default.fileExists(atPath: cluster.dataDirectory + "/agentos.sqlite"), "the state is in PostgreSQL")

        let (status, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": .string(EndToEndTests.sumCode), "inputs": ["n": 1000]],
            token: token)
        #expect(status == 200 && job["status"] == "succeeded" && job["result"] == 499500, "\(job)")
        #expect(job["worker"] == "pg-worker")

        // Skills, files and a session go through the store's other tables.
        let (skillStatus, _) = try await cluster.http(
            "POST", "/api/v1/projects/default/skills", body: ["name": "sum", "code": .string(EndToEndTests.sumCode)], token: token)
        #expect(skillStatus == 201)
        let (skillJob, bySkill) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30", body: ["skill": "sum", "inputs": ["n": 10]], token: token)
        #expect(skillJob == 200 && bySkill["result"] == 45 && bySkill["skill"] == "sum" && bySkill["version"] == 1, "\(bySkill)")

        // Jobs running and queued when the server is killed all end once, succeeded.
        let code = "import time\ndef main(i):\n    time.sleep(1.5)\n    return i * 2\n"
        var ids: [String] = []
        for i in 0..<6 {
            let (submitted, body) = try await cluster.http(
                "POST", "/api/v1/projects/default/jobs", body: ["code": .string(code), "inputs": ["i": .number(Double(i))]], token: token)
            #expect(submitted == 202)
            ids.append(try #require(body["id"]?.stringValue))
        }
        // Killed once the first has started (a loaded machine may poll only after it ended).
        _ = try await cluster.waitForStatus(ids[0], token: token) { $0 != "queued" }
        try await cluster.kill("server", signal: SIGKILL)
        try await cluster.startServer()
        try await cluster.waitUntilHealthy()
        for (i, id) in ids.enumerated() {
            let done = try await cluster.waitForStatus(id, token: token) { $0 != "queued" && $0 != "running" }
            #expect(done["status"] == "succeeded" && done["result"] == .number(Double(i * 2)), "job \(id): \(done)")
        }
        let (_, history) = try await cluster.http("GET", "/api/v1/projects/default/jobs?limit=50", token: token)
        #expect(history["jobs"]?.arrayValue?.count == 8, "every job is in the history once")
    }
}
