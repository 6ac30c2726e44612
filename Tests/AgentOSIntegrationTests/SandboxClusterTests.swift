import AgentOSWire
import Foundation
import Testing

/// Sandboxed cloud workers in a real cluster: hostile jobs reach neither the gateway, the
/// server nor anyone's files; the network only where an admin allowed it; a worker killed
/// outright takes its sandboxes with it.
@Suite struct SandboxClusterTests {
    /// Submits `code` with `inputs` (and `limits`) and waits for it to end.
    func run(_ cluster: Cluster, _ code: String, inputs: JSONValue = [:], limits: JSONValue? = nil, token: String) async throws -> JSONValue {
        var body: [String: JSONValue] = ["code": .string(code), "inputs": inputs]
        if let limits { body["limits"] = limits }
        let (status, job) = try await cluster.http("POST", "/api/v1/projects/default/jobs?wait=60", body: .object(body), token: token)
        try #require(status == 200, "\(job)")
        return job
    }

    @Test func hostileJobsReachNothingAndTheWorkerStaysHealthy() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot(workers: ["w1": 2])
        let gateway = try #require(URL(string: cluster.gatewayURL))
        let busPort = try #require(Int(cluster.busEndpoint.split(separator: ":").last ?? ""))
        let code = """
            import os, socket
            def main(ports, paths):
                seen = {}
                for port in ports:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=2).close()
                        seen[str(port)] = "connected"
                    except OSError as error:
                        seen[str(port)] = error.strerror
                for path in paths:
                    seen[path] = os.path.exists(path)
                seen["interfaces"] = [name for _, name in socket.if_nameindex()]
                return seen
            """
        let paths = [cluster.dataDirectory, cluster.dataDirectory + "/agentos.sqlite", cluster.dataDirectory + "/worker-token", cluster.sandboxCache, "/etc/shadow"]
        let job = try await run(cluster, code, inputs: [
            "ports": [.number(Double(gateway.port ?? 0)), .number(Double(busPort))], "paths": .array(paths.map { .string($0) }),
        ], token: token)
        #expect(job["status"] == "succeeded", "\(job)")
        let seen = try #require(job["result"]?.objectValue)
        #expect(seen["\(gateway.port ?? 0)"] == "Network is unreachable")
        #expect(seen["\(busPort)"] == "Network is unreachable")
        for path in paths { #expect(seen[path] == false, "\(path)") }
        #expect(seen["interfaces"] == ["lo"])

        // A fork bomb and a memory bomb end at their limits; the worker goes on.
        let bomb = try await run(cluster, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", limits: ["timeout_s": 2], token: token)
        #expect(bomb["status"] == "timed_out")
        let memory = try await run(cluster, "def main():\n    x = bytearray(4 << 30)", limits: ["memory_mb": 256], token: token)
        #expect(memory["status"] == "failed" && memory["error"] == "memory_limit: the job needed more than 256 MiB", "\(memory)")
        let fine = try await run(cluster, "def main():\n    return 'still here'", token: token)
        #expect(fine["result"] == "still here" && fine["worker"] == "w1")
    }

    @Test func networkOnlyWhereAnAdminAllowedIt() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot(workers: ["w1": 1])
        let code = """
            import urllib.request
            def main(url):
                with urllib.request.urlopen(url, timeout=5) as response:
                    return response.status
            """
        let body: JSONValue = ["code": .string(code), "inputs": ["url": .string(cluster.gatewayURL + "/healthz")], "limits": ["network": true]]
        let (refused, error) = try await cluster.http("POST", "/api/v1/projects/default/jobs", body: body, token: token)
        #expect(refused == 403 && error["error"]?["code"] == "network_not_allowed")
        let (patched, project) = try await cluster.http("PATCH", "/api/v1/projects/default", body: ["allow_network": true], token: token)
        #expect(patched == 200 && project["allow_network"] == true)
        let job = try await run(cluster, code, inputs: ["url": .string(cluster.gatewayURL + "/healthz")], limits: ["network": true], token: token)
        #expect(job["status"] == "succeeded" && job["result"] == 200, "\(job)")
        // Without asking, a job in the same project still has no network.
        let offline = try await run(cluster, code, inputs: ["url": .string(cluster.gatewayURL + "/healthz")], token: token)
        #expect(offline["status"] == "failed" && offline["error"]?.stringValue?.contains("URLError") == true, "\(offline)")
    }

    @Test func aKilledWorkerTakesItsSandboxesWithIt() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot(workers: ["doomed": 1])
        let marker = "\(Int.random(in: 100_000...999_999)).125"
        let (status, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs",
            body: ["code": .string("import subprocess\nsubprocess.run(['sleep', '\(marker)'])"), "max_attempts": 1], token: token)
        #expect(status == 202)
        let id = try #require(job["id"]?.stringValue)
        _ = try await cluster.waitForStatus(id, token: token) { $0 == "running" }
        try await cluster.waitFor("the job's sleep to start") { !hostProcesses(containing: "sleep \(marker)").isEmpty }
        try await cluster.kill("doomed", signal: SIGKILL)
        try await cluster.waitFor("the sandbox to die with its worker", timeout: 10) { hostProcesses(containing: "sleep \(marker)").isEmpty }
    }
}

/// Host processes whose command line contains `marker`.
func hostProcesses(containing marker: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.filter { Int($0) != nil }.compactMap { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        return line.contains(marker) ? "\(pid): \(line)" : nil
    }
}
