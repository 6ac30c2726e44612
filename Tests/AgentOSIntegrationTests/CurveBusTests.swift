import AgentOSWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The bus and the API socket with CURVE and ZAP, with real processes: peers with the right
/// keys work as before; every other peer is refused at the handshake, with a clear error.
@Suite(.serialized) struct CurveBusTests {
    @Test func knownPeersWorkAndEveryOtherIsRefusedAtTheHandshake() async throws {
        let cluster = try Cluster()
        cluster.curve = true
        defer { cluster.shutdown() }
        let admin = try await cluster.boot(workers: ["cloud-1": 1], sandboxed: false)

        // The server's key is in its data dir (the secret 0600) and in GET /cluster.
        let key = try String(contentsOfFile: cluster.serverKeyPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let (_, info) = try await cluster.http("GET", "/api/v1/cluster", token: admin)
        #expect(info["curve_public_key"]?.stringValue == key)
        for secret in ["server-key", "gateway-token"] {
            let mode = try FileManager.default.attributesOfItem(atPath: cluster.dataDirectory + "/" + secret)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(secret)")
        }

        // Gateway and worker with the right keys: jobs flow.
        let (status, job) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": "def main():\n    return 6 * 7"], token: admin)
        #expect(status == 200 && job["result"] == 42 && job["worker"] == "cloud-1")

        // A desktop finds the key through its (loopback) gateway, pins it, and attaches with a
        // personal access token of its own.
        try await cluster.attachDesktop("desk", email: "admin@localhost", password: cluster.adminPassword)
        try await cluster.waitForWorkers(["cloud-1", "desk"], token: admin)
        let (_, mine) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": "def main():\n    return 1", "target": "private"], token: admin)
        #expect(mine["status"] == "succeeded" && mine["worker"] == "desk")
        let pins = try String(contentsOfFile: cluster.directory.appendingPathComponent("config-desk/agentos/server-keys.json").path, encoding: .utf8)
        #expect(pins.contains(key))

        // A worker token nobody made: refused at the handshake, and the worker says so.
        let bogus = cluster.directory.appendingPathComponent("bogus-token").path
        try Data("aow_not-a-real-token\n".utf8).write(to: URL(fileURLWithPath: bogus))
        try cluster.start("bogus", ["worker", "--server", cluster.busEndpoint, "--token-file", bogus, "--server-key", cluster.serverKeyPath, "--insecure-no-sandbox"])
        #expect(try await cluster.waitForExit("bogus") == 1)
        #expect(cluster.log("bogus").contains("refused this worker's key at the handshake"))
        #expect(cluster.log("server").contains("refused a peer at the handshake"))

        // The right token but another server's key: the handshake cannot complete.
        try cluster.start("wrong-key", [
            "worker", "--server", cluster.busEndpoint, "--token-file", cluster.dataDirectory + "/worker-token",
            "--server-key", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "--insecure-no-sandbox",
        ])
        #expect(try await cluster.waitForExit("wrong-key") == 1)
        #expect(cluster.log("wrong-key").contains("cannot complete the CURVE handshake"))

        // No key at all against a CURVE bus.
        try cluster.start("plain", ["worker", "--server", cluster.busEndpoint, "--token-file", cluster.dataDirectory + "/worker-token", "--insecure-no-sandbox"])
        #expect(try await cluster.waitForExit("plain") == 1)
        #expect(cluster.log("plain").contains("runs CURVE: give the server's public key with --server-key"))

        // A gateway with the wrong token reaches nothing, and says why.
        try cluster.start("bad-gateway", [
            "gateway", "--listen", "127.0.0.1:0", "--server", cluster.apiEndpoint, "--server-key", cluster.serverKeyPath, "--token-file", bogus,
        ])
        try await cluster.waitFor("the bad gateway to log the refusal") { cluster.log("bad-gateway").contains("refused this gateway's key") }
        // Its clients are told why, not to try again shortly.
        try await cluster.waitFor("the bad gateway to listen") { cluster.log("bad-gateway").contains("listening on ") }
        let listening = try #require(cluster.log("bad-gateway").components(separatedBy: "listening on ").last?
            .split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) })
        var health = URLRequest(url: try #require(URL(string: "http://\(listening)/api/v1/me")))
        health.setValue("Bearer \(admin)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: health)
        #expect((response as? HTTPURLResponse)?.statusCode == 503)
        #expect(String(decoding: data, as: UTF8.self).contains("refused this gateway's key"), "\(String(decoding: data, as: UTF8.self))")

        // A revoked worker token: its worker is told at once, and cannot come back.
        let (_, made) = try await cluster.http("POST", "/api/v1/worker-tokens", body: ["name": "temp"], token: admin)
        let tokenFile = cluster.directory.appendingPathComponent("temp-token").path
        try Data(try #require(made["token"]?.stringValue).utf8).write(to: URL(fileURLWithPath: tokenFile))
        try cluster.start("temp", [
            "worker", "--server", cluster.busEndpoint, "--token-file", tokenFile, "--server-key", cluster.serverKeyPath,
            "--name", "temp", "--insecure-no-sandbox",
        ])
        try await cluster.waitForWorkers(["cloud-1", "desk", "temp"], token: admin)
        let tokenID = try #require(made["id"]?.stringValue)
        // The listing says which token each cloud worker uses, so a rotation can be checked.
        let (_, listed) = try await cluster.http("GET", "/api/v1/workers", token: admin)
        let byName = Dictionary((listed["workers"]?.arrayValue ?? []).compactMap { worker in worker["name"]?.stringValue.map { ($0, worker) } },
                                uniquingKeysWith: { first, _ in first })
        #expect(byName["temp"]?["worker_token_id"]?.stringValue == tokenID)
        #expect(byName["cloud-1"]?["worker_token_id"]?.stringValue != tokenID && byName["cloud-1"]?["worker_token_id"] != .null)
        #expect(byName["desk"]?["worker_token_id"] == .null)
        #expect(try await cluster.http("DELETE", "/api/v1/worker-tokens/\(tokenID)", token: admin).0 == 204)
        #expect(try await cluster.waitForExit("temp") == 1)
        try cluster.start("temp-again", [
            "worker", "--server", cluster.busEndpoint, "--token-file", tokenFile, "--server-key", cluster.serverKeyPath, "--insecure-no-sandbox",
        ])
        #expect(try await cluster.waitForExit("temp-again") == 1)
        #expect(cluster.log("temp-again").contains("refused this worker's key at the handshake"))

        // Through all of it, the real peers kept working.
        let (_, after) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs?wait=30", body: ["code": "def main():\n    return 'still'"], token: admin)
        #expect(after["result"] == "still")
    }

    @Test func aServerBeyondLoopbackRunsCurveAndAPlainWorkerIsToldWhy() async throws {
        // Binding beyond loopback needs no network: the wildcard address is enough, and
        // the worker connects through loopback.
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        try cluster.start("server", ["server", "--data", cluster.dataDirectory, "--bus", "tcp://0.0.0.0:*", "--api", "tcp://127.0.0.1:*"])
        try await cluster.waitFor("the server to listen") { cluster.log("server").contains("server ready") }
        #expect(cluster.log("server").contains("bus_security=curve"))
        let cluster_json = try String(contentsOfFile: cluster.dataDirectory + "/cluster.json", encoding: .utf8)
        #expect(cluster_json.contains(try String(contentsOfFile: cluster.serverKeyPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // A worker told the address beyond loopback without a key refuses to start.
        try cluster.start("keyless", ["worker", "--server", "tcp://192.0.2.1:5555", "--token-file", cluster.dataDirectory + "/worker-token", "--insecure-no-sandbox"])
        #expect(try await cluster.waitForExit("keyless") == 2)
        #expect(cluster.log("keyless").contains("is not on loopback, so the server runs CURVE there"))
    }
}
