import AgentOSWire
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Scenario A of the architecture note: a desktop syncs skills, runs them locally on local
/// folders, online or offline, and its runs reach the server through the outbox exactly
/// once, whatever stops the desktop when. Real processes on loopback; the desktop reaches the
/// gateway through a small proxy the test controls, to hold a push where it wants one held.
@Suite struct DesktopLocalTests {
    /// A desktop user: its own config and data directories (XDG), logged in through the proxy.
    struct Desktop {
        let cluster: Cluster
        let name: String
        let home: String

        var environment: [String: String] {
            ["XDG_CONFIG_HOME": home + "/config", "XDG_DATA_HOME": home + "/data", "HOME": home, "AGENTOS_LOG_LEVEL": "warning"]
        }

        var dataDirectory: String { home + "/data/agentos" }

        init(_ cluster: Cluster, name: String, email: String, password: String, gateway: String) async throws {
            self.cluster = cluster
            self.name = name
            home = cluster.directory.appendingPathComponent("home-\(name)").path
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            // The sandbox user of a root test run must reach the folders the test shares.
            chmod(home, 0o755)
            let (status, output) = try await run("login", ["login", "--gateway", gateway, "--email", email], extra: ["AGENTOS_PASSWORD": password])
            try #require(status == 0, "login: \(output)")
        }

        /// Runs `agentos arguments` as this desktop to its end; the status and output.
        @discardableResult
        func run(_ label: String, _ arguments: [String], extra: [String: String] = [:]) async throws -> (Int32?, String) {
            let processName = "\(name)-\(label)-\(UUID().uuidString.prefix(6))"
            try start(processName, arguments, extra: extra)
            let status = try await cluster.waitForExit(processName, timeout: 120)
            return (status, cluster.log(processName))
        }

        /// Starts `agentos arguments` as this desktop without waiting.
        func start(_ processName: String, _ arguments: [String], extra: [String: String] = [:]) throws {
            try cluster.start(processName, arguments, environment: environment.merging(extra) { $1 })
        }

        /// `agentos … --json` parsed (the last JSON document of its output).
        func json(_ label: String, _ arguments: [String]) async throws -> JSONValue {
            let (status, output) = try await run(label, arguments + ["--json"])
            try #require(status == 0, "\(arguments): \(output)")
            let start = try #require(output.firstIndex { $0 == "{" || $0 == "[" })
            return try JSONValue.parse(Data(output[start...].utf8))
        }

        func runs() async throws -> [JSONValue] {
            try await json("runs", ["desktop", "runs", "--limit", "100"]).arrayValue ?? []
        }
    }

    /// A TCP proxy in front of the gateway, in its own process: `mode` is `forward`, `hold`
    /// (take the request, never pass it on) or `hold-response` (pass the request on, never
    /// pass the answer back). It logs `held request` / `held response` when it holds one.
    struct Proxy {
        let cluster: Cluster
        let directory: String
        let port: Int

        static let script = #"""
            import os, socket, sys, threading
            directory = sys.argv[1]
            def read(name, default=""):
                try:
                    return open(os.path.join(directory, name)).read().strip()
                except OSError:
                    return default
            server = socket.socket()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", 0))
            server.listen(64)
            with open(os.path.join(directory, "port.tmp"), "w") as f:
                f.write(str(server.getsockname()[1]))
            os.rename(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))
            def pump(source, target, forward, label):
                try:
                    while True:
                        data = source.recv(65536)
                        if not data:
                            break
                        if forward:
                            target.sendall(data)
                        else:
                            print("held " + label, flush=True)
                except OSError:
                    pass
                try:
                    target.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            def handle(client):
                mode = read("mode", "forward")
                if mode == "hold":
                    pump(client, None, False, "request")
                    return
                try:
                    upstream = socket.create_connection(("127.0.0.1", int(read("target"))))
                except (OSError, ValueError):
                    client.close()
                    return
                threading.Thread(target=pump, args=(client, upstream, True, "request"), daemon=True).start()
                pump(upstream, client, mode != "hold-response", "response")
            while True:
                connection, _ = server.accept()
                threading.Thread(target=handle, args=(connection,), daemon=True).start()
            """#

        init(_ cluster: Cluster) async throws {
            self.cluster = cluster
            directory = cluster.directory.appendingPathComponent("proxy").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let directory = self.directory
            try cluster.startPython("proxy", Self.script, arguments: [directory])
            try await cluster.waitFor("the proxy to listen") { FileManager.default.fileExists(atPath: directory + "/port") }
            port = try #require(Int(try String(contentsOfFile: directory + "/port", encoding: .utf8)))
            try point(at: cluster.gatewayPort)
        }

        var url: String { "http://127.0.0.1:\(port)" }

        func point(at gatewayPort: String) throws {
            try Data(gatewayPort.utf8).write(to: URL(fileURLWithPath: directory + "/target"))
        }

        func set(_ mode: String) throws {
            try Data(mode.utf8).write(to: URL(fileURLWithPath: directory + "/mode"))
        }

        /// How many times the proxy held `what` so far.
        func held(_ what: String) -> Int {
            cluster.log("proxy").components(separatedBy: "held \(what)").count - 1
        }
    }

    /// Adds a skill (or a version of it) to a project.
    static func push(_ cluster: Cluster, skill: String, code: String, project: String = "default", token: String, newVersion: Bool = false) async throws {
        let path = newVersion ? "/api/v1/projects/\(project)/skills/\(skill)/versions" : "/api/v1/projects/\(project)/skills"
        let (status, body) = try await cluster.http("POST", path, body: ["name": .string(skill), "code": .string(code)], token: token)
        try #require(status == 201, "\(body)")
    }

    /// The server's local-origin records of a project.
    static func serverRuns(_ cluster: Cluster, project: String = "default", token: String) async throws -> [JSONValue] {
        let (status, body) = try await cluster.http("GET", "/api/v1/projects/\(project)/jobs?origin=local&limit=200", token: token)
        try #require(status == 200, "\(body)")
        return body["jobs"]?.arrayValue ?? []
    }

    static let greet = """
        def main(name="world"):
            print("hello", name, flush=True)
            return {"greeting": "hi " + name}
        """

    @Test func runOfflineFromTheSyncedVersionThenTheOutboxDrainsOnce() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        try await Self.push(cluster, skill: "greet", code: Self.greet, token: admin)
        let proxy = try await Proxy(cluster)
        let desktop = try await Desktop(cluster, name: "alice", email: "admin@localhost", password: cluster.adminPassword, gateway: proxy.url)

        let synced = try await desktop.json("sync", ["desktop", "sync"])
        #expect(synced["fetched_versions"] == ["default/greet@1"], "\(synced)")

        // Offline: the gateway is gone.
        try await cluster.kill("gateway")
        let (status, output) = try await desktop.run("run-offline", ["desktop", "run", "greet", "--input", #"{"name": "offline"}"#])
        #expect(status == 0, "\(output)")
        #expect(output.contains("hello offline") && output.contains("\"greeting\" : \"hi offline\""), "\(output)")
        #expect(output.contains("waits in the outbox"), "\(output)")
        let offline = try await desktop.json("status-offline", ["desktop", "status"])
        #expect(offline["server_reachable"] == false && offline["runs"]?["pending"] == 1, "\(offline)")
        let local = try #require(try await desktop.runs().first)
        #expect(local["sync_state"] == "pending" && local["status"] == "succeeded", "\(local)")
        let (syncStatus, syncOutput) = try await desktop.run("sync-offline", ["desktop", "sync"])
        #expect(syncStatus == 1 && syncOutput.contains("cannot reach the gateway"), "\(syncOutput)")

        // Back online: the outbox drains, and the server lists the run once, as it ran.
        try await cluster.startGateway()
        try proxy.point(at: cluster.gatewayPort)
        try await cluster.waitUntilHealthy()
        let drained = try await desktop.json("sync-online", ["desktop", "sync"])
        #expect(drained["runs_synced"] == 1 && drained["runs_waiting"] == 0, "\(drained)")
        try await desktop.run("sync-again", ["desktop", "sync"])
        let records = try await Self.serverRuns(cluster, token: admin)
        #expect(records.count == 1, "\(records)")
        let record = try #require(records.first)
        #expect(record["origin"] == "local" && record["status"] == "succeeded", "\(record)")
        #expect(record["client_run_id"] == local["id"], "\(record)")
        #expect(record["inputs"] == ["name": "offline"] && record["result"] == ["greeting": "hi offline"], "\(record)")
        #expect(record["skill"] == "greet" && record["version"] == 1, "\(record)")
        let whole = try await cluster.job(try #require(record["id"]?.stringValue), token: admin)
        #expect(whole["stdout"] == "hello offline\n" && whole["stderr"] == "", "\(whole)")
        #expect(record["device"] == local["device"] && record["device"]?.stringValue?.isEmpty == false, "\(record)")
        let after = try #require(try await desktop.runs().first)
        #expect(after["sync_state"] == "synced" && after["server_job_id"] == record["id"], "\(after)")
    }

    @Test func killedBeforeAndDuringThePushEveryRunReachesTheServerOnce() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        try await Self.push(cluster, skill: "greet", code: Self.greet, token: admin)
        try await Self.push(cluster, skill: "slow", code: "import time\ndef main():\n    print('started', flush=True)\n    time.sleep(120)\n", token: admin)
        let proxy = try await Proxy(cluster)
        let desktop = try await Desktop(cluster, name: "kim", email: "admin@localhost", password: cluster.adminPassword, gateway: proxy.url)
        try await desktop.run("sync", ["desktop", "sync"])

        // 1. Recorded, and killed while its push waits for the server: the server never saw it.
        try proxy.set("hold")
        try desktop.start("kim-run-1", ["desktop", "run", "greet", "--input", #"{"name": "one"}"#])
        try await cluster.waitFor("the first push to be held") { proxy.held("request") >= 1 }
        try await cluster.kill("kim-run-1")
        #expect(try await Self.serverRuns(cluster, token: admin).isEmpty)
        // 2. Recorded and pushed (with the first, which waited in the outbox), and killed before
        // the server's answer came back.
        try proxy.set("hold-response")
        try desktop.start("kim-run-2", ["desktop", "run", "greet", "--input", #"{"name": "two"}"#])
        try await cluster.waitFor("the second push's answer to be held") { proxy.held("response") >= 1 }
        try await cluster.kill("kim-run-2")
        // 3. Killed in the middle of its run.
        try proxy.set("forward")
        try desktop.start("kim-run-3", ["desktop", "run", "slow", "--no-push"])
        try await cluster.waitFor("the slow run to start") { cluster.log("kim-run-3").contains("started") }
        try await cluster.kill("kim-run-3")

        let before = try await Self.serverRuns(cluster, token: admin)
        #expect(Set(before.compactMap { $0["inputs"]?["name"]?.stringValue }) == ["one", "two"], "the second push took both: \(before)")
        let local = try await desktop.runs()
        #expect(local.count == 3, "\(local)")
        #expect(local.allSatisfy { $0["sync_state"] == "pending" }, "none is marked synced: \(local)")

        let pushed = try await desktop.json("sync-after", ["desktop", "sync"])
        #expect(pushed["runs_synced"] == 3 && pushed["runs_waiting"] == 0, "\(pushed)")
        let records = try await Self.serverRuns(cluster, token: admin)
        #expect(records.count == 3, "each run once: \(records.map { $0["client_run_id"] ?? .null })")
        #expect(Set(records.compactMap { $0["client_run_id"]?.stringValue }) == Set(local.compactMap { $0["id"]?.stringValue }))
        let interrupted = try #require(records.first { $0["skill"] == "slow" })
        #expect(interrupted["status"] == "failed" && interrupted["error"]?.stringValue?.hasPrefix("interrupted") == true, "\(interrupted)")
        #expect(try await cluster.job(try #require(interrupted["id"]?.stringValue), token: admin)["stdout"] == "", "\(interrupted)")
    }

    @Test func aNewVersionReachesTheNextSyncAndOnlyItIsFetched() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        for name in ["alpha", "beta"] {
            try await Self.push(cluster, skill: name, code: "def main():\n    return '\(name) 1'", token: admin)
        }
        // An agent with a provider: its configuration syncs, the provider's key never does.
        let key = "sk-desktop-never-\(UUID().uuidString)"
        var (status, body) = try await cluster.http("POST", "/api/v1/projects/default/providers", body: [
            "name": "openai", "kind": "openai", "base_url": "https://api.openai.com/v1", "api_key": .string(key), "models": ["gpt-4o"],
        ], token: admin)
        try #require(status == 201, "\(body)")
        (status, body) = try await cluster.http("POST", "/api/v1/projects/default/agents", body: [
            "name": "helper", "provider": "openai", "model": "gpt-4o", "system_prompt": "be brief", "skills": ["alpha"],
        ], token: admin)
        try #require(status == 201, "\(body)")
        let desktop = try await Desktop(cluster, name: "sam", email: "admin@localhost", password: cluster.adminPassword, gateway: cluster.gatewayURL)

        let first = try await desktop.json("sync-1", ["desktop", "sync"])
        #expect(first["fetched_versions"] == ["default/alpha@1", "default/beta@1"], "\(first)")
        #expect(first["updated_agents"] == ["default/helper"], "\(first)")
        // The project list, then the project's skills and agents, then each version.
        #expect(first["requests"] == 5, "\(first)")

        try await Self.push(cluster, skill: "alpha", code: "def main():\n    return 'alpha 2'", token: admin, newVersion: true)
        let second = try await desktop.json("sync-2", ["desktop", "sync"])
        #expect(second["fetched_versions"] == ["default/alpha@2"], "\(second)")
        #expect(second["updated_agents"] == [], "\(second)")
        #expect(second["requests"] == 4, "only the changed version is fetched: \(second)")
        let third = try await desktop.json("sync-3", ["desktop", "sync"])
        #expect(third["fetched_versions"] == [] && third["requests"] == 3, "\(third)")

        var (runStatus, output) = try await desktop.run("run-latest", ["desktop", "run", "alpha"])
        #expect(runStatus == 0 && output.contains("\"alpha 2\""), "\(output)")
        (runStatus, output) = try await desktop.run("run-v1", ["desktop", "run", "alpha@1"])
        #expect(runStatus == 0 && output.contains("\"alpha 1\""), "\(output)")
        (runStatus, output) = try await desktop.run("run-v9", ["desktop", "run", "alpha@9"])
        #expect(runStatus == 1 && output.contains("no version 9"), "\(output)")

        // Nothing the desktop keeps holds the provider's key.
        let files = try FileManager.default.subpathsOfDirectory(atPath: desktop.dataDirectory)
        for file in files {
            let data = FileManager.default.contents(atPath: desktop.dataDirectory + "/" + file) ?? Data()
            #expect(data.range(of: Data(key.utf8)) == nil, "\(file) holds the key")
        }
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: desktop.dataDirectory)[.posixPermissions] as? Int)
        #expect(mode == 0o700, "the data dir is private: \(String(mode, radix: 8))")
    }

    @Test func aRunSeesItsFoldersAndNothingElse() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        try await Self.push(cluster, skill: "probe", code: """
            import os
            def main(paths):
                seen = {"mnt": sorted(os.listdir("/mnt"))}
                for path in paths:
                    try:
                        seen[path] = open(path).read() if os.path.isfile(path) else sorted(os.listdir(path))
                    except OSError as error:
                        seen[path] = type(error).__name__
                for name in ("ro", "rw"):
                    try:
                        open("/mnt/%s/out.txt" % name, "w").write("written")
                        seen["write " + name] = "ok"
                    except OSError as error:
                        seen["write " + name] = type(error).__name__
                return seen
            """, token: admin)
        let desktop = try await Desktop(cluster, name: "flo", email: "admin@localhost", password: cluster.adminPassword, gateway: cluster.gatewayURL)
        try await desktop.run("sync", ["desktop", "sync"])
        let folders = cluster.directory.appendingPathComponent("folders").path
        for name in ["ro", "rw", "sibling"] {
            try FileManager.default.createDirectory(atPath: folders + "/" + name, withIntermediateDirectories: true)
            chmod(folders + "/" + name, 0o777)
            try Data("\(name) data\n".utf8).write(to: URL(fileURLWithPath: folders + "/\(name)/file.txt"))
        }
        chmod(folders, 0o755)
        let hidden = [folders + "/sibling", folders + "/sibling/file.txt", desktop.home, desktop.dataDirectory, "/mnt/sibling", "/mnt/ro/../sibling", "/root/.config"]
        let paths = JSONValue.array((["/mnt/ro/file.txt", "/mnt/rw/file.txt", "/mnt/ro/.."] + hidden).map { .string($0) })
        let (status, output) = try await desktop.run("run", [
            "desktop", "run", "probe", "--input", JSONValue.object(["paths": paths]).encodedString(),
            "--dir", folders + "/ro", "--dir", folders + "/rw:rw",
        ])
        #expect(status == 0, "\(output)")
        let run = try #require(try await desktop.runs().first)
        let seen = try #require(run["result"]?.objectValue, "\(run)")
        #expect(seen["mnt"] == ["ro", "rw"], "\(seen)")
        #expect(seen["/mnt/ro/.."] == ["ro", "rw"], "above a folder is /mnt, not its host parent: \(seen)")
        #expect(seen["/mnt/ro/file.txt"] == "ro data\n" && seen["/mnt/rw/file.txt"] == "rw data\n", "\(seen)")
        for path in hidden { #expect(seen[path] == "FileNotFoundError", "\(path) is not there: \(seen[path] ?? .null)") }
        #expect(seen["write ro"] == "OSError", "read-only: \(seen)")
        #expect(seen["write rw"] == "ok", "\(seen)")
        #expect(!FileManager.default.fileExists(atPath: folders + "/ro/out.txt"))
        #expect(try String(contentsOfFile: folders + "/rw/out.txt", encoding: .utf8) == "written")
        #expect(run["folders"] == [["name": "ro", "writable": false], ["name": "rw", "writable": true]], "\(run)")
        let record = try #require(try await Self.serverRuns(cluster, token: admin).first)
        #expect(record["dirs"] == ["ro", "rw"], "the server's record names the folders: \(record)")

        // Never the desktop's own login, data or sandbox cache, nor a folder holding them.
        try FileManager.default.createDirectory(atPath: cluster.sandboxCache, withIntermediateDirectories: true)
        for own in [desktop.home, desktop.home + "/config/agentos", desktop.dataDirectory, cluster.sandboxCache] {
            let (refused, refusal) = try await desktop.run("own", ["desktop", "run", "probe", "--cache", cluster.sandboxCache, "--dir", own])
            #expect(refused == 2 && refusal.contains("which no job may see"), "\(own): \(refusal)")
        }
        let (nested, nestedRefusal) = try await desktop.run("nested", ["desktop", "run", "probe", "--dir", folders + ":rw", "--dir", folders + "/ro"])
        #expect(nested == 2 && nestedRefusal.contains("overlap"), "\(nestedRefusal)")

        // A folder the sandbox user cannot reach is refused before anything runs.
        if geteuid() == 0 {
            let closed = folders + "/closed"
            try FileManager.default.createDirectory(atPath: closed + "/inside", withIntermediateDirectories: true)
            chmod(closed, 0o700)
            let (refused, refusal) = try await desktop.run("closed", ["desktop", "run", "probe", "--dir", closed + "/inside"])
            #expect(refused == 2 && refusal.contains("does not let uid 65533 through"), "\(refusal)")
            let (readOnly, readOnlyRefusal) = try await desktop.run("ro-only", ["desktop", "run", "probe", "--dir", closed + ":rw"])
            #expect(readOnly == 2 && readOnlyRefusal.contains("uid 65533"), "\(readOnlyRefusal)")
        }

        // A folder that is not there, or two with one name, are usage errors.
        var (bad, badOutput) = try await desktop.run("missing", ["desktop", "run", "probe", "--dir", folders + "/missing"])
        #expect(bad == 2 && badOutput.contains("no folder at"), "\(badOutput)")
        try FileManager.default.createDirectory(atPath: folders + "/other/ro", withIntermediateDirectories: true)
        (bad, badOutput) = try await desktop.run("twice", ["desktop", "run", "probe", "--dir", folders + "/ro", "--dir", folders + "/other/ro"])
        #expect(bad == 2 && badOutput.contains("would both be /mnt/ro"), "\(badOutput)")
    }

    @Test func aRunOfAUserWhoLostTheProjectStaysLocalRefused() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        var (status, body) = try await cluster.http("POST", "/api/v1/users", body: [
            "email": "bob@example.com", "password": "bob-password-1", "name": "Bob", "role": "user",
        ], token: admin)
        try #require(status == 201, "\(body)")
        let bobID = try #require(body["id"]?.stringValue)
        (status, body) = try await cluster.http("POST", "/api/v1/projects", body: ["name": "lab"], token: admin)
        try #require(status == 201, "\(body)")
        (status, body) = try await cluster.http("PUT", "/api/v1/projects/lab/members", body: ["email": "bob@example.com", "role": "runner"], token: admin)
        try #require(status == 200 || status == 201, "\(body)")
        try await Self.push(cluster, skill: "greet", code: Self.greet, project: "lab", token: admin)
        let desktop = try await Desktop(cluster, name: "bob", email: "bob@example.com", password: "bob-password-1", gateway: cluster.gatewayURL)
        try await desktop.run("sync", ["desktop", "sync"])
        let (runStatus, output) = try await desktop.run("run", ["desktop", "run", "greet", "--no-push"])
        #expect(runStatus == 0, "\(output)")

        (status, body) = try await cluster.http("DELETE", "/api/v1/projects/lab/members/\(bobID)", token: admin)
        try #require(status == 204 || status == 200, "\(body)")
        let (syncStatus, syncOutput) = try await desktop.run("sync-refused", ["desktop", "sync"])
        #expect(syncStatus == 0, "\(syncOutput)")
        #expect(syncOutput.contains("1 refused"), "\(syncOutput)")
        let refused = try #require(try await desktop.runs().first)
        #expect(refused["sync_state"] == "rejected", "\(refused)")
        #expect(refused["sync_error"]?.stringValue?.contains("HTTP 404") == true, "\(refused)")
        let (_, table) = try await desktop.run("runs-table", ["desktop", "runs"])
        #expect(table.contains("refused: the server refused runs in project lab"), "\(table)")
        // Never retried: a later sync leaves it as it is.
        try await desktop.run("sync-later", ["desktop", "sync"])
        let later = try #require(try await desktop.runs().first)
        #expect(later["sync_state"] == "rejected" && later["sync_attempts"] == refused["sync_attempts"], "\(later)")
        #expect(try await Self.serverRuns(cluster, project: "lab", token: admin).isEmpty)
        let statusReport = try await desktop.json("status", ["desktop", "status"])
        let lab = statusReport["projects"]?.arrayValue?.first { $0["name"] == "lab" }
        #expect(lab?["accessible"] == false, "\(statusReport)")

        // Given the project back, the refused run can be queued again, and goes.
        (status, body) = try await cluster.http("PUT", "/api/v1/projects/lab/members", body: ["email": "bob@example.com", "role": "runner"], token: admin)
        try #require(status == 200 || status == 201, "\(body)")
        let (retried, retryOutput) = try await desktop.run("retry", ["desktop", "runs", "--retry"])
        #expect(retried == 0 && retryOutput.contains("1 refused run(s) back in the outbox"), "\(retryOutput)")
        let pushed = try await desktop.json("sync-retried", ["desktop", "sync"])
        #expect(pushed["runs_synced"] == 1, "\(pushed)")
        #expect(try await Self.serverRuns(cluster, project: "lab", token: admin).count == 1)
    }

    @Test func theLocalSandboxServiceListensOnLoopbackWithItsTokenAndSaysWhere() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        _ = try await cluster.boot()
        let desktop = try await Desktop(cluster, name: "ui", email: "admin@localhost", password: cluster.adminPassword, gateway: cluster.gatewayURL)
        let (refused, refusal) = try await desktop.run("wide", ["desktop", "sandbox", "--listen", "0.0.0.0:0"])
        #expect(refused == 2 && refusal.contains("loopback only"), "\(refusal)")

        try desktop.start("ui-sandbox", ["desktop", "sandbox", "--listen", "127.0.0.1:0", "--cache", cluster.sandboxCache, "--warm-pool", "1"])
        let stateFile = desktop.dataDirectory + "/sandbox.json"
        try await cluster.waitFor("the service to say where it is", timeout: 60) { FileManager.default.fileExists(atPath: stateFile) }
        let state = try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: stateFile)))
        let url = try #require(state["url"]?.stringValue)
        #expect(url.hasPrefix("http://127.0.0.1:") && !url.hasSuffix(":0"), "\(state)")
        let tokenFile = try #require(state["token_file"]?.stringValue)
        #expect(tokenFile == desktop.dataDirectory + "/sandbox-token")
        #expect(try FileManager.default.attributesOfItem(atPath: tokenFile)[.posixPermissions] as? Int == 0o600)
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

        var request = URLRequest(url: URL(string: url + "/execute")!, timeoutInterval: 60)
        request.httpMethod = "POST"
        request.httpBody = JSONValue.object(["code": "def main(x):\n    return x + 1", "inputs": ["x": 41]]).encoded()
        let (anonymous, _) = try await URLSession.shared.data(for: request)
        #expect((try? JSONValue.parse(anonymous))?["error"]?["code"] == "unauthorized")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200 && (try? JSONValue.parse(data))?["result"] == 42, "\(String(decoding: data, as: UTF8.self))")

        let status = try await desktop.json("status", ["desktop", "status"])
        #expect(status["sandbox_service"]?.stringValue == url, "\(status)")
        // One service per desktop: a second says where the first is.
        let (second, secondOutput) = try await desktop.run("second", ["desktop", "sandbox", "--listen", "127.0.0.1:0", "--cache", cluster.sandboxCache])
        #expect(second == 1 && secondOutput.contains("already runs at \(url)"), "\(secondOutput)")
        #expect(FileManager.default.fileExists(atPath: stateFile), "the first one's state is left alone")
        try await cluster.kill("ui-sandbox", signal: SIGTERM)
        #expect(!FileManager.default.fileExists(atPath: stateFile), "gone with the service")
    }

    @Test func anAttachedDesktopDrainsTheOutboxByItself() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        try await Self.push(cluster, skill: "greet", code: Self.greet, token: admin)
        let desktop = try await Desktop(cluster, name: "ada", email: "admin@localhost", password: cluster.adminPassword, gateway: cluster.gatewayURL)
        try await desktop.run("sync", ["desktop", "sync"])
        let (status, output) = try await desktop.run("run", ["desktop", "run", "greet", "--no-push"])
        #expect(status == 0, "\(output)")
        #expect(try await desktop.runs().first?["sync_state"] == "pending")
        try desktop.start("ada-attach", ["desktop", "attach", "--slots", "1", "--cache", cluster.sandboxCache, "--warm-pool", "0"])
        try await cluster.waitFor("the attached desktop to push the run", timeout: 90) {
            try await desktop.runs().first?["sync_state"] == "synced"
        }
        #expect(try await Self.serverRuns(cluster, token: admin).count == 1)
    }

    @Test func aRunRevealsItsProvidersKeyAtRunTimeAndKeepsItNowhere() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot()
        let key = "sk-run-time-\(UUID().uuidString)"
        var (status, body) = try await cluster.http("POST", "/api/v1/projects/default/providers", body: [
            "name": "openai", "kind": "openai", "base_url": "https://api.openai.com/v1", "api_key": .string(key), "models": ["gpt-4o"],
        ], token: admin)
        try #require(status == 201, "\(body)")
        (status, body) = try await cluster.http("POST", "/api/v1/projects/default/agents", body: [
            "name": "helper", "provider": "openai", "model": "gpt-4o", "system_prompt": "be brief",
        ], token: admin)
        try #require(status == 201, "\(body)")
        try await Self.push(cluster, skill: "model", code: """
            import json, os
            def main():
                key = os.environ.get("AGENTOS_PROVIDER_API_KEY", "")
                return {"key_length": len(key), "key_tail": key[-6:], "model": os.environ.get("AGENTOS_MODEL"),
                        "prompt": json.loads(os.environ.get("AGENTOS_AGENT", "{}")).get("system_prompt"),
                        "base_url": os.environ.get("AGENTOS_PROVIDER_BASE_URL")}
            """, token: admin)
        let proxy = try await Proxy(cluster)
        let desktop = try await Desktop(cluster, name: "mo", email: "admin@localhost", password: cluster.adminPassword, gateway: proxy.url)
        try await desktop.run("sync", ["desktop", "sync"])

        let (runStatus, output) = try await desktop.run("run", ["desktop", "run", "model", "--agent", "helper"])
        #expect(runStatus == 0, "\(output)")
        let run = try #require(try await desktop.runs().first)
        #expect(run["result"] == [
            "key_length": .number(Double(key.count)), "key_tail": .string(String(key.suffix(6))), "model": "gpt-4o", "prompt": "be brief",
            "base_url": "https://api.openai.com/v1",
        ], "\(run)")
        #expect(!output.contains(key))
        let audit = try await cluster.http("GET", "/api/v1/audit?action=provider.reveal", token: admin).1
        #expect(audit["entries"]?.arrayValue?.count == 1, "the reveal is audited: \(audit)")

        // Offline there is no key to give: the run does not start.
        try proxy.set("hold-response")
        try await cluster.kill("gateway")
        let (offline, offlineOutput) = try await desktop.run("run-offline", ["desktop", "run", "model", "--provider", "openai"])
        #expect(offline == 1 && offlineOutput.contains("needs provider openai's key"), "\(offlineOutput)")
        #expect(try await desktop.runs().count == 1)
        // Nothing the desktop keeps holds the key.
        for file in try FileManager.default.subpathsOfDirectory(atPath: desktop.dataDirectory) {
            let data = FileManager.default.contents(atPath: desktop.dataDirectory + "/" + file) ?? Data()
            #expect(data.range(of: Data(key.utf8)) == nil, "\(file) holds the key")
        }
    }
}
