import AgentOSTestSupport
import AgentOSWire
import Foundation
import Testing

/// Two servers sharing one PostgreSQL store, with real processes: a job queued through one
/// runs on the other's worker and is cancelled through the first; killing one server loses
/// no job and runs none twice, its workers moving to the other.
@Suite(.serialized) struct HAClusterTests {
    /// Starts server A with its gateway (no workers) and server B with its gateway on one new
    /// database; returns an admin token, B's bus and both gateways' addresses.
    static func twoServers(_ cluster: Cluster) async throws -> (
        token: String, busA: String, busB: String, gatewayA: String, gatewayB: String, apis: [String]
    ) {
        cluster.store = try await StoreEngine.newPostgresDatabase()
        let token = try await cluster.boot()
        let gatewayA = String(cluster.gatewayURL.dropFirst("http://".count))
        let (busB, apiB) = try await cluster.startPeerServer("server-b")
        let gatewayB = try await cluster.startPeerGateway("gateway-b", api: apiB)
        return (token, cluster.busEndpoint, busB, gatewayA, gatewayB, [cluster.apiEndpoint, apiB])
    }

    /// A cloud worker that runs jobs unsandboxed (they read the test's files) on these servers, in turn.
    static func startWorker(_ cluster: Cluster, _ name: String, servers: [String], slots: Int) throws {
        try cluster.start(name, [
            "worker", "--server", servers.joined(separator: ","), "--token-file", cluster.dataDirectory + "/worker-token",
            "--name", name, "--slots", String(slots), "--insecure-no-sandbox",
        ])
    }

    @Test func aJobQueuedThroughOneServerRunsOnAnothersWorkerAndIsCancelledThroughTheFirst() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let (token, _, busB, gatewayA, gatewayB, _) = try await Self.twoServers(cluster)
        try Self.startWorker(cluster, "only-on-b", servers: [busB], slots: 1)
        cluster.useGateway(gatewayB)
        try await cluster.waitForWorkers(["only-on-b"], token: token)

        // Both servers list both buses, so that workers can move between them.
        let (_, clusterInfo) = try await cluster.http("GET", "/api/v1/cluster", token: token)
        #expect(clusterInfo["bus"]?.arrayValue?.count == 2, "\(clusterInfo)")

        cluster.useGateway(gatewayA)
        let (status, submitted) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs", body: ["code": .string(cluster.codeWaiting(for: "never", returning: "x"))], token: token)
        #expect(status == 202)
        let id = try #require(submitted["id"]?.stringValue)
        let running = try await cluster.waitForStatus(id, token: token) { $0 == "running" }
        #expect(running["worker"] == "only-on-b", "queued through A, run by B's worker: \(running)")
        let pidsFile = cluster.directory.appendingPathComponent("never.pids").path
        try await cluster.waitFor("the run's pid") { FileManager.default.fileExists(atPath: pidsFile) }
        let pid = try #require(Int32(String(contentsOfFile: pidsFile, encoding: .utf8).split(separator: "\n").first ?? ""))

        let (cancelStatus, cancelled) = try await cluster.http("POST", "/api/v1/jobs/\(id)/cancel", token: token)
        #expect(cancelStatus == 200 && cancelled["status"] == "cancelled")
        try await cluster.waitFor("B's worker to stop the run cancelled through A") { kill(pid, 0) != 0 }

        // A waits for a job B's worker ends: it hears of the end from the database.
        let (waited, answer) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": "def main():\n    return 'done on b'"], token: token)
        #expect(waited == 200 && answer["result"] == "done on b" && answer["worker"] == "only-on-b", "\(answer)")

        // A file uploaded through A is read by B's worker: the bytes are in the database, and
        // a 600 KiB file comes over B's bus in chunks.
        let bytes = Data((0..<600_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let (uploaded, file) = try await cluster.upload("/api/v1/projects/default/files?name=data.bin", data: bytes, token: token)
        #expect(uploaded == 201)
        let digest = "import hashlib\ndef main():\n    return hashlib.sha256(open('files/data.bin', 'rb').read()).hexdigest()\n"
        let (read, digested) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=60", body: ["code": .string(digest), "files": [file["id"] ?? .null]], token: token)
        #expect(read == 200 && digested["result"] == file["sha256"] && digested["worker"] == "only-on-b", "\(digested)")

        // The worker token revoked through A disconnects the worker on B at once.
        let (_, tokens) = try await cluster.http("GET", "/api/v1/worker-tokens", token: token)
        let tokenID = try #require(tokens["worker_tokens"]?.arrayValue?.first?["id"]?.stringValue, "\(tokens)")
        #expect(try await cluster.http("DELETE", "/api/v1/worker-tokens/\(tokenID)", token: token).0 == 204)
        #expect(try await cluster.waitForExit("only-on-b") == 1, "the worker on B was refused for good")
        #expect(cluster.log("only-on-b").contains("revoked"), "\(cluster.log("only-on-b").suffix(500))")
    }

    @Test func killingOneOfTwoServersLosesNoJobAndRunsNoneTwice() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let (token, busA, busB, _, gatewayB, apis) = try await Self.twoServers(cluster)
        // A gateway in front of both servers, A first.
        let gatewayAB = try await cluster.startPeerGateway("gateway-ab", api: apis.joined(separator: ","))
        try Self.startWorker(cluster, "first-on-a", servers: [busA, busB], slots: 8)
        try Self.startWorker(cluster, "first-on-b", servers: [busB, busA], slots: 8)
        try await cluster.waitFor("a worker on each server") {
            cluster.log("first-on-a").contains("connected") && cluster.log("first-on-b").contains("connected")
        }
        cluster.useGateway(gatewayB)

        let ledger = cluster.directory.appendingPathComponent("ledger").path
        let code = """
            import time
            def main(i):
                time.sleep(0.2)
                with open(\(JSONValue.string(ledger).encodedString()), 'a') as f:
                    f.write(str(i) + '\\n')
                return i * i
            """
        let count = 500
        var ids: [Int: String] = [:]
        var keyedJobs = 0
        for i in 0..<count {
            let (status, body) = try await cluster.http(
                "POST", "/api/v1/projects/default/jobs", body: ["code": .string(code), "inputs": ["i": .number(Double(i))]], token: token)
            #expect(status == 202)
            ids[i] = try #require(body["id"]?.stringValue)
        }
        // Server A dies with jobs running on its worker and hundreds queued.
        try await cluster.waitFor("jobs to run on A's worker") {
            (try? String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n").count) ?? 0 >= 40
        }
        let killed = ContinuousClock.now
        try await cluster.kill("server", signal: SIGKILL)
        try await cluster.waitFor("A's worker to move to B", timeout: 60) {
            cluster.log("first-on-a").components(separatedBy: "connected").count > 2
        }
        // The failover README documents: silent for 5 heartbeats, then the next server; well
        // within the lease (15 s), so the worker keeps its runs and B adopts them.
        let failover = ContinuousClock.now - killed
        print("HAClusterTests: A's worker was on B \(failover) after A was killed")
        #expect(failover < .seconds(15), "the worker moved within the lease")

        // The gateway in front of both serves reads and idempotent submits through B.
        cluster.useGateway(gatewayAB)
        let (read, page) = try await cluster.http("GET", "/api/v1/projects/default/jobs?limit=1", token: token)
        #expect(read == 200 && page["jobs"]?.arrayValue?.count == 1, "\(page)")
        let keyed: JSONValue = ["code": "def main():\n    return 'keyed'", "idempotency_key": "after-a-died"]
        let (first, submitted) = try await cluster.http("POST", "/api/v1/projects/default/jobs?wait=60", body: keyed, token: token)
        let (second, again) = try await cluster.http("POST", "/api/v1/projects/default/jobs?wait=60", body: keyed, token: token)
        #expect(first == 200 && submitted["result"] == "keyed", "\(submitted)")
        #expect(second == 200 && again["id"] == submitted["id"], "the same job for the same key")
        #expect(cluster.log("gateway-ab").contains("server does not answer"), "the gateway noticed A was gone")
        keyedJobs = 1
        cluster.useGateway(gatewayB)

        try await cluster.waitFor("every job to end", timeout: 240) {
            var ended = 0
            var cursor: String?
            repeat {
                let query = "/api/v1/projects/default/jobs?limit=200" + (cursor.map { "&cursor=\($0)" } ?? "")
                let (_, page) = try await cluster.http("GET", query, token: token)
                let jobs = page["jobs"]?.arrayValue ?? []
                ended += jobs.filter { $0["status"] != "queued" && $0["status"] != "running" }.count
                cursor = page["next_cursor"]?.stringValue
            } while cursor != nil
            return ended == count + keyedJobs
        }
        for (i, id) in ids.sorted(by: { $0.key < $1.key }) {
            let job = try await cluster.job(id, token: token)
            #expect(job["status"] == "succeeded" && job["result"] == .number(Double(i * i)), "job \(i): \(job)")
        }
        let runs = try String(contentsOfFile: ledger, encoding: .utf8).split(separator: "\n").map { Int($0)! }
        #expect(runs.count == count && Set(runs).count == count, "every job ran exactly once: \(runs.count) runs of \(Set(runs).count) jobs")
        #expect(!cluster.log("first-on-a").contains("stopping the runs"), "no run was given up for want of a server")
    }

    @Test func aDesktopMovesToTheOtherServerAndKeepsRunningItsUsersJobs() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let (token, busA, busB, _, _, apis) = try await Self.twoServers(cluster)
        let gateway = try await cluster.startPeerGateway("gateway-ab", api: apis.joined(separator: ","))
        cluster.useGateway(gateway)
        try await cluster.attachDesktop("desk", email: "admin@localhost", password: cluster.adminPassword)
        try await cluster.waitFor("the desktop on A") { cluster.log("desk").contains("server=\(busA)") }

        let body: JSONValue = ["code": "def main():\n    return 'mine'", "target": "private"]
        let (_, before) = try await cluster.http("POST", "/api/v1/projects/default/jobs?wait=30", body: body, token: token)
        #expect(before["result"] == "mine" && before["worker"] == "desk", "\(before)")

        try await cluster.kill("server", signal: SIGKILL)
        try await cluster.waitFor("the desktop on B", timeout: 60) { cluster.log("desk").contains("server=\(busB)") }
        let (status, after) = try await cluster.http("POST", "/api/v1/projects/default/jobs?wait=60", body: body, token: token)
        #expect(status == 200 && after["result"] == "mine" && after["worker"] == "desk", "\(after)")
    }
}
