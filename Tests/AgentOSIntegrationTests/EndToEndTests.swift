import AgentOSWire
import Foundation
import Testing

/// The three ways the system is used, with real processes: submit over HTTP, attach a
/// desktop as a private worker, scale and lose cloud workers, restart the server.
@Suite(.serialized) struct EndToEndTests {
    static let sumCode = "def main(n):\n    return sum(range(n))\n"

    @Test func jobOverHTTPRunsOnACloudWorker() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot(workers: ["cloud-1": 2])

        let (status, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": .string(Self.sumCode), "inputs": ["n": 1000]], token: token)
        #expect(status == 200)
        #expect(job["status"] == "succeeded")
        #expect(job["result"] == 499500)
        #expect(job["worker"] == "cloud-1")
        let id = try #require(job["id"]?.stringValue)
        #expect(try await cluster.job(id, token: token)["result"] == 499500)

        // A result far larger than one bus message reaches the server in parts, whole.
        let (largeStatus, large) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=60",
            body: ["code": "def main():\n    print('x' * (3 << 20))\n    return 'y' * (2 << 20)", "limits": ["max_output_kb": 4096]], token: token)
        #expect(largeStatus == 200 && large["status"] == "succeeded", "\(large["error"] ?? .null)")
        #expect(large["stdout"]?.stringValue?.count == (3 << 20) + 1 && large["result"]?.stringValue?.count == 2 << 20)

        // The contract's errors, from the real stack.
        #expect(try await cluster.http("GET", "/api/v1/me").0 == 401)
        #expect(try await cluster.http("GET", "/api/v1/me", token: "garbage").0 == 401)
        #expect(try await cluster.http("POST", "/api/v1/projects/default/jobs", body: ["code": 5], token: token).0 == 400)
        #expect(try await cluster.http("POST", "/api/v1/projects/nope/jobs", body: ["code": "x"], token: token).0 == 404)
        #expect(try await cluster.http("GET", "/api/v1/jobs/nope", token: token).0 == 404)
        let (wrongLogin, wrongBody) = try await cluster.http("POST", "/api/v1/auth/login", body: ["email": "admin@localhost", "password": "nope"])
        #expect(wrongLogin == 401 && wrongBody["error"]?["code"] == "invalid_credentials")
    }

    @Test func privateJobsRunOnlyOnTheirOwnersDesktop() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot(workers: ["cloud-1": 2])
        _ = try cluster.addUser(email: "bob@example.com", password: "bob-pass-1", projectRole: .runner)
        let bob = try await cluster.login("bob@example.com", password: "bob-pass-1")
        try await cluster.attachDesktop("admin-desk", email: "admin@localhost", password: cluster.adminPassword)
        try await cluster.waitForWorkers(["cloud-1", "admin-desk"], token: admin)

        let (_, mine) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30",
            body: ["code": "import os\ndef main():\n    return os.getpid()", "target": "private"], token: admin)
        #expect(mine["status"] == "succeeded")
        #expect(mine["worker"] == "admin-desk")

        let (bobStatus, bobs) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=2", body: ["code": "def main():\n    return 1", "target": "private"], token: bob)
        #expect(bobStatus == 202)
        #expect(bobs["status"] == "queued")
        #expect(bobs["warnings"]?.arrayValue?.isEmpty == false, "bob is told none of his workers is connected")
        let bobsID = try #require(bobs["id"]?.stringValue)
        try await Task.sleep(for: .seconds(1))
        let later = try await cluster.job(bobsID, token: bob)
        #expect(later["status"] == "queued" && later["worker"] == .null, "neither the admin's desktop nor a cloud worker took it")

        let (_, cloudJob) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": "def main():\n    return 2"], token: admin)
        #expect(cloudJob["worker"] == "cloud-1", "cloud jobs never go to a desktop")

        // Bob may not read the admin's desktop in the worker list.
        let (_, bobsView) = try await cluster.http("GET", "/api/v1/workers", token: bob)
        #expect(bobsView["workers"]?.arrayValue?.isEmpty == true)
        #expect(bobsView["cloud"]?["workers"] == 1)
    }

    @Test func workerKilledMidJobFinishesOnAnotherWorker() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot(workers: ["doomed": 1], sandboxed: false)

        let (status, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs",
            body: ["code": .string(cluster.codeWaiting(for: "go", returning: "done"))], token: token)
        #expect(status == 202)
        let id = try #require(job["id"]?.stringValue)
        let running = try await cluster.waitForStatus(id, token: token) { $0 == "running" }
        #expect(running["worker"] == "doomed")

        try await cluster.startWorker("survivor", slots: 1, sandboxed: false)
        try await cluster.waitForWorkers(["survivor"], token: token)
        try await cluster.kill("doomed", signal: SIGKILL)
        let orphan = try #require(cluster.runPIDs(waitingFor: "go").first)
        try await cluster.waitFor("the killed worker's job process to die with it", timeout: 10) { !Cluster.isAlive(orphan) }
        cluster.raise("go")

        let finished = try await cluster.waitForStatus(id, token: token) { $0 != "queued" && $0 != "running" }
        #expect(finished["status"] == "succeeded")
        #expect(finished["result"] == "done")
        #expect(finished["worker"] == "survivor")
        #expect(finished["attempts"] == 2)
    }

    @Test func serverKilledAndRestartedFinishesEveryJobOnce() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot()

        // Each run appends its job id to a ledger, so a job run twice would show twice.
        let ledger = cluster.directory.appendingPathComponent("ledger").path
        let code = """
            import os, time
            def main(i):
                time.sleep(0.3)
                with open(\(JSONValue.string(ledger).encodedString()), 'a') as f:
                    f.write(os.environ.get('JOB', '') + str(i) + '\\n')
                return i
            """
        var ids: [String] = []
        for i in 0..<8 {
            let (status, job) = try await cluster.http("POST", "/api/v1/projects/default/jobs", body: ["code": .string(code), "inputs": ["i": .number(Double(i))]], token: token)
            #expect(status == 202)
            #expect(job["warnings"] != nil, "no worker is connected yet")
            ids.append(try #require(job["id"]?.stringValue))
        }
        // Two are mid-run and six queued when the server dies. (The ledger is on the host:
        // only an unsandboxed worker's jobs can write it.)
        try await cluster.startWorker("w1", slots: 2, sandboxed: false)
        _ = try await cluster.waitForStatus(ids[0], token: token) { $0 == "running" }
        try await cluster.kill("server", signal: SIGKILL)
        try await Task.sleep(for: .milliseconds(300))
        try await cluster.startServer()
        try await cluster.waitUntilHealthy()

        for id in ids {
            let job = try await cluster.waitForStatus(id, token: token) { $0 != "queued" && $0 != "running" }
            #expect(job["status"] == "succeeded", "job \(id): \(job)")
        }
        let lines = try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.sorted() == (0..<8).map(String.init).sorted(), "every job ran exactly once")
    }
}

@Suite(.serialized) struct JobControlTests {
    @Test func cancelListAndProjectRoles() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot(workers: ["only": 1])
        _ = try cluster.addUser(email: "viewer@example.com", password: "viewer-pass", projectRole: .viewer)
        _ = try cluster.addUser(email: "runner@example.com", password: "runner-pass", projectRole: .runner)
        let viewer = try await cluster.login("viewer@example.com", password: "viewer-pass")
        let runner = try await cluster.login("runner@example.com", password: "runner-pass")

        // A viewer reads but may not submit.
        let (viewerSubmit, viewerError) = try await cluster.http("POST", "/api/v1/projects/default/jobs", body: ["code": "pass"], token: viewer)
        #expect(viewerSubmit == 403 && viewerError["error"]?["code"] == "forbidden")

        // Cancelling a running job frees its worker's only slot.
        let (_, sleeper) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs", body: ["code": "import time\ndef main():\n    time.sleep(60)"], token: admin)
        let sleeperID = try #require(sleeper["id"]?.stringValue)
        _ = try await cluster.waitForStatus(sleeperID, token: admin) { $0 == "running" }
        #expect(try await cluster.http("POST", "/api/v1/jobs/\(sleeperID)/cancel", token: viewer).0 == 403)
        #expect(try await cluster.http("POST", "/api/v1/jobs/\(sleeperID)/cancel", token: runner).0 == 403, "a runner cancels only its own jobs")
        let (cancelStatus, cancelled) = try await cluster.http("POST", "/api/v1/jobs/\(sleeperID)/cancel", token: admin)
        #expect(cancelStatus == 200 && cancelled["status"] == "cancelled")
        #expect(try await cluster.http("POST", "/api/v1/jobs/\(sleeperID)/cancel", token: admin).0 == 409)
        let (_, next) = try await cluster.http("POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": "def main():\n    return 'next'"], token: runner)
        #expect(next["result"] == "next", "the cancelled job's slot came back")
        #expect(try await cluster.job(sleeperID, token: admin)["status"] == "cancelled", "the worker's late report changed nothing")

        // Listing pages newest first with a cursor.
        for i in 0..<3 {
            _ = try await cluster.http("POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": .string("def main():\n    return \(i)")], token: admin)
        }
        let (_, first) = try await cluster.http("GET", "/api/v1/projects/default/jobs?limit=2&status=succeeded", token: viewer)
        let firstPage = first["jobs"]?.arrayValue ?? []
        #expect(firstPage.map { $0["result"] } == [2, 1])
        let cursor = try #require(first["next_cursor"]?.stringValue)
        let (_, second) = try await cluster.http("GET", "/api/v1/projects/default/jobs?limit=2&status=succeeded&cursor=\(cursor)", token: viewer)
        #expect((second["jobs"]?.arrayValue ?? []).map { $0["result"] } == [0, "next"])
        #expect(try await cluster.http("GET", "/api/v1/projects/default/jobs?status=bogus", token: viewer).0 == 400)
        #expect(try await cluster.http("GET", "/api/v1/projects/default/jobs?cursor=%%%", token: viewer).0 == 400)
    }
}
