import AgentOSAuth
import AgentOSStore
import AgentOSTestSupport
import AgentOSWire
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Real `agentos` processes on random loopback ports with a temporary data directory.
/// Everything started is killed by process id in `shutdown()`.
final class Cluster: @unchecked Sendable {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: String {
        ProcessInfo.processInfo.environment["AGENTOS_BIN"] ?? repositoryRoot.appendingPathComponent(".build/debug/agentos").path
    }

    let directory: URL
    /// Endpoints as the processes report them once bound: every port is picked by the
    /// kernel at bind time, so concurrent tests never race for one.
    private let endpoints = NSLock()
    private var boundBus = ""
    private var boundAPI = ""
    private var boundHTTP = ""
    let adminPassword = "admin-pass-1"
    // Short enough to keep dead-peer tests quick, long enough for a loaded CI machine.
    let heartbeatMS = 500
    private let lock = NSLock()
    private var processes: [String: TestProcess] = [:]
    /// Runs the bus and the API socket with CURVE (on loopback, `--curve-on-loopback`), and
    /// starts gateways and workers with the server's key and their tokens; set before `boot`.
    var curve = false
    /// The server's `--store`, when not the data directory's SQLite file; set before `boot`.
    var store: String?

    init() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build the agentos binary first (swift build)")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-it-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    var dataDirectory: String { directory.appendingPathComponent("data").path }
    var busEndpoint: String { endpoints.withLock { boundBus } }
    var apiEndpoint: String { endpoints.withLock { boundAPI } }
    var gatewayURL: String { endpoints.withLock { "http://\(boundHTTP)" } }

    // MARK: Processes

    @discardableResult
    /// Starts `agentos arguments`, or, with `via`, `via[0] via[1...] agentos arguments`.
    func start(_ name: String, _ arguments: [String], environment extra: [String: String] = [:], via: [String] = []) throws -> TestProcess {
        var environment = ProcessInfo.processInfo.environment
        environment["AGENTOS_BCRYPT_COST"] = "4"
        environment["AGENTOS_ADMIN_PASSWORD"] = adminPassword
        environment["AGENTOS_LOG_LEVEL"] = "debug"
        for (key, value) in extra { environment[key] = value }
        // A restarted process appends to its earlier log.
        let process = try TestProcess(
            executable: via.first ?? Self.binary, arguments: via.dropFirst() + (via.isEmpty ? [] : [Self.binary]) + arguments,
            environment: environment,
            logPath: directory.appendingPathComponent("\(name).log").path)
        lock.withLock { processes[name] = process }
        return process
    }

    /// Starts `command` as it is (no agentos binary), its output in `log(name)`.
    @discardableResult
    func startCommand(_ name: String, _ command: [String]) throws -> TestProcess {
        let process = try TestProcess(
            executable: command[0], arguments: Array(command.dropFirst()), environment: ProcessInfo.processInfo.environment,
            logPath: directory.appendingPathComponent("\(name).log").path)
        lock.withLock { processes[name] = process }
        return process
    }

    /// Starts the server on kernel-chosen ports (or, after a first start, the same ones again)
    /// and waits until it says where it listens.
    func startServer() async throws {
        let (bus, api) = endpoints.withLock { (boundBus, boundAPI) }
        let marker = log("server").components(separatedBy: "server ready").count
        try start("server", [
            "server", "--data", dataDirectory, "--bus", bus.isEmpty ? "tcp://127.0.0.1:*" : bus,
            "--api", api.isEmpty ? "tcp://127.0.0.1:*" : api, "--heartbeat-ms", String(heartbeatMS),
        ] + (curve ? ["--curve-on-loopback"] : []) + (store.map { ["--store", $0] } ?? []))
        try await waitFor("the server to listen") { self.log("server").components(separatedBy: "server ready").count > marker }
        let line = try #require(log("server").split(separator: "\n").last { $0.contains("server ready") })
        endpoints.withLock {
            boundBus = Self.field("bus=", in: line) ?? bus
            boundAPI = Self.field("api=", in: line) ?? api
        }
    }

    func startGateway(_ arguments: [String] = []) async throws {
        let security = curve ? ["--server-key", serverKeyPath, "--token-file", dataDirectory + "/gateway-token"] : []
        // A restarted gateway appends to its log, on a new port: its own line is the newest.
        let marker = log("gateway").components(separatedBy: "listening on ").count
        try start("gateway", ["gateway", "--listen", "127.0.0.1:0", "--server", apiEndpoint] + security + arguments)
        try await waitFor("the gateway to listen") { self.log("gateway").components(separatedBy: "listening on ").count > marker }
        let line = try #require(log("gateway").split(separator: "\n").last { $0.contains("listening on ") })
        let address = try #require(line.components(separatedBy: "listening on ").last?.trimmingCharacters(in: .whitespaces))
        endpoints.withLock { boundHTTP = address }
    }

    /// Starts another server, `name`, on the same data directory and `store` (several servers
    /// sharing a PostgreSQL store), and returns its bus and API endpoints.
    func startPeerServer(_ name: String) async throws -> (bus: String, api: String) {
        let marker = log(name).components(separatedBy: "server ready").count
        try start(name, [
            "server", "--data", dataDirectory, "--bus", "tcp://127.0.0.1:*", "--api", "tcp://127.0.0.1:*",
            "--heartbeat-ms", String(heartbeatMS),
        ] + (store.map { ["--store", $0] } ?? []))
        try await waitFor("\(name) to listen") { self.log(name).components(separatedBy: "server ready").count > marker }
        let line = try #require(log(name).split(separator: "\n").last { $0.contains("server ready") })
        return (try #require(Self.field("bus=", in: line)), try #require(Self.field("api=", in: line)))
    }

    /// Starts a gateway, `name`, in front of the server whose API socket is `api`, and returns
    /// its HOST:PORT (for `useGateway`).
    func startPeerGateway(_ name: String, api: String) async throws -> String {
        try start(name, ["gateway", "--listen", "127.0.0.1:0", "--server", api])
        try await waitFor("\(name) to listen") { self.log(name).contains("listening on ") }
        let line = try #require(log(name).split(separator: "\n").last { $0.contains("listening on ") })
        return try #require(line.components(separatedBy: "listening on ").last?.trimmingCharacters(in: .whitespaces))
    }

    /// Sends `http` requests to the gateway at `address` (HOST:PORT), for gateways started by the test itself.
    func useGateway(_ address: String) {
        endpoints.withLock { boundHTTP = address }
    }

    private static func field(_ name: String, in line: Substring) -> String? {
        guard let range = line.range(of: name) else { return nil }
        return line[range.upperBound...].split(separator: " ").first.map(String.init)
    }

    /// Starts a cloud worker. Unsandboxed (`sandboxed: false`), its jobs see the test's
    /// files, which `codeWaiting(for:returning:)` needs.
    func startWorker(_ name: String, slots: Int = 1, sandboxed: Bool = true, extraArguments: [String] = []) async throws {
        try await waitFor("the worker token") { FileManager.default.fileExists(atPath: self.dataDirectory + "/worker-token") }
        try start(name, [
            "worker", "--server", busEndpoint, "--token-file", dataDirectory + "/worker-token", "--name", name, "--slots", String(slots),
            "--cache", sandboxCache, "--warm-pool", "1",
        ] + (sandboxed ? [] : ["--insecure-no-sandbox"]) + (curve ? ["--server-key", serverKeyPath] : []) + extraArguments)
    }

    /// The server's public key file.
    var serverKeyPath: String { dataDirectory + "/server-key.pub" }

    /// The workers' shared sandbox cache (work dirs, virtualenvs).
    var sandboxCache: String { directory.appendingPathComponent("sandbox").path }

    /// Starts a server, a gateway (with `gatewayArguments`) and the named workers (name →
    /// slots), waits until all are up, and returns an admin access token.
    func boot(workers: [String: Int] = [:], sandboxed: Bool = true, gatewayArguments: [String] = []) async throws -> String {
        try await startServer()
        try await startGateway(gatewayArguments)
        for (name, slots) in workers.sorted(by: { $0.key < $1.key }) { try await startWorker(name, slots: slots, sandboxed: sandboxed) }
        try await waitUntilHealthy()
        let token = try await login()
        try await waitForWorkers(Set(workers.keys), token: token)
        return token
    }

    /// Logs in with the CLI (its own config dir, `config-<name>`) and attaches a desktop as
    /// that user, with `extraArguments` (`--dir …`).
    func attachDesktop(_ name: String, email: String, password: String, extraArguments: [String] = []) async throws {
        let config = directory.appendingPathComponent("config-\(name)").path
        try start("login-\(name)", ["login", "--gateway", gatewayURL, "--email", email], environment: [
            "XDG_CONFIG_HOME": config, "AGENTOS_PASSWORD": password,
        ])
        let status = try await waitForExit("login-\(name)")
        try #require(status == 0, "login failed: \(log("login-\(name)"))")
        try start(
            name, ["desktop", "attach", "--name", name, "--slots", "1", "--cache", sandboxCache, "--warm-pool", "0"] + extraArguments,
            environment: ["XDG_CONFIG_HOME": config, "XDG_DATA_HOME": directory.appendingPathComponent("data-\(name)").path])
    }

    /// Runs `python3 -c script arguments…` as `name` (its output in `log(name)`): a client that
    /// speaks to a server below HTTP, from its own process.
    func startPython(_ name: String, _ script: String, arguments: [String] = []) throws {
        let process = try TestProcess(
            executable: "/usr/bin/env", arguments: ["python3", "-c", script] + arguments,
            environment: ProcessInfo.processInfo.environment, logPath: directory.appendingPathComponent("\(name).log").path)
        lock.withLock { processes[name] = process }
    }

    /// The port of the gateway's URL.
    var gatewayPort: String { String(gatewayURL.split(separator: ":").last ?? "") }

    func kill(_ name: String, signal: Int32 = SIGKILL, wait: Bool = true) async throws {
        guard let process = lock.withLock({ processes[name] }) else { return }
        process.signal(signal)
        if wait { _ = try await waitForExit(name) }
    }

    /// Waits for a process to end without blocking a cooperative thread (tests share a few).
    func waitForExit(_ name: String, timeout: Double = 60) async throws -> Int32? {
        guard let process = lock.withLock({ processes[name] }) else { return nil }
        try await waitFor("\(name) to exit", timeout: timeout) { !process.isRunning }
        return process.status
    }

    func log(_ name: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
    }

    /// Kills every process it started, at once; reaping them and removing the directory (a
    /// worker's sandbox cache can be large) happen on a thread of their own. Tests call this
    /// from a `defer` on Swift's cooperative pool, which has one thread per core: waiting there
    /// held up every other test of the process (a worker test once waited a minute for its
    /// service to start).
    func shutdown() {
        let all = lock.withLock { Array(processes.values) }
        for process in all { process.signal(SIGKILL) }
        let directory = self.directory
        let thread = Thread {
            // Bounded: never hang a test run on a process that will not go.
            let deadline = Date().addingTimeInterval(5)
            while all.contains(where: \.isRunning), Date() < deadline { usleep(10_000) }
            if ProcessInfo.processInfo.environment["AGENTOS_KEEP_TEST_DIRS"] == nil {
                try? FileManager.default.removeItem(at: directory)
            }
        }
        thread.name = "cluster-cleanup"
        thread.start()
    }

    // MARK: HTTP

    func http(_ method: String, _ path: String, body: JSONValue? = nil, token: String? = nil) async throws -> (Int, JSONValue) {
        var request = URLRequest(url: URL(string: gatewayURL + path)!, timeoutInterval: 60)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body { request.httpBody = body.encoded() }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONValue.parse(data)) ?? .null)
    }

    /// Sends raw bytes (file upload) and returns the status and JSON answer.
    func upload(_ path: String, data: Data, token: String) async throws -> (Int, JSONValue) {
        var request = URLRequest(url: URL(string: gatewayURL + path)!, timeoutInterval: 60)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("text/plain", forHTTPHeaderField: "Content-Type")
        request.httpBody = data
        let (answer, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONValue.parse(answer)) ?? .null)
    }

    /// Runs the CLI to the end with its own config dir; returns the exit status and output.
    func cli(_ name: String, _ arguments: [String], config: String, environment: [String: String] = [:]) async throws -> (Int32?, String) {
        var extra = environment
        extra["XDG_CONFIG_HOME"] = directory.appendingPathComponent(config).path
        try start(name, arguments, environment: extra)
        let status = try await waitForExit(name)
        return (status, log(name))
    }

    /// Runs `agentos arguments` to its end; returns its exit status and output.
    func runCommand(_ name: String, _ arguments: [String]) async throws -> (Int32?, String) {
        try start(name, arguments)
        let status = try await waitForExit(name, timeout: 120)
        return (status, log(name))
    }

    func login(_ email: String = "admin@localhost", password: String? = nil) async throws -> String {
        let (status, body) = try await http("POST", "/api/v1/auth/login", body: ["email": .string(email), "password": .string(password ?? adminPassword)])
        try #require(status == 200, "login answered \(status): \(body)")
        return try #require(body["access_token"]?.stringValue)
    }

    func waitUntilHealthy() async throws {
        try await waitFor("the gateway and server to be healthy", timeout: 60) {
            (try? await self.http("GET", "/healthz").0) == 200
        }
    }

    func waitForWorkers(_ names: Set<String>, token: String) async throws {
        try await waitFor("workers \(names.sorted())") {
            let (_, body) = (try? await self.http("GET", "/api/v1/workers", token: token)) ?? (0, .null)
            let online = Set((body["workers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
            return names.isSubset(of: online)
        }
    }

    func job(_ id: String, token: String) async throws -> JSONValue {
        try await http("GET", "/api/v1/jobs/\(id)", token: token).1
    }

    func waitForStatus(_ id: String, token: String, timeout: Double = 60, _ accept: @escaping @Sendable (String) -> Bool) async throws -> JSONValue {
        var last: JSONValue = .null
        try await waitFor("job \(id) status", timeout: timeout) {
            last = (try? await self.job(id, token: token)) ?? .null
            return last["status"]?.stringValue.map(accept) ?? false
        }
        return last
    }

    func waitFor(_ what: String, timeout: Double = 30, _ condition: @escaping () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what)\n--- server ---\n\(log("server").suffix(3000))")
        throw CancellationError()
    }

    /// Python for a job that blocks until the test creates `flag`, then returns `value`:
    /// timing-free control over when a run may finish. It reads the test's directory, so
    /// only an unsandboxed worker can run it.
    /// Each run appends its process id to `<directory>/<flag>.pids` first.
    func codeWaiting(for flag: String, returning value: String) -> String {
        let path = JSONValue.string(directory.appendingPathComponent(flag).path).encodedString()
        let pids = JSONValue.string(directory.appendingPathComponent(flag + ".pids").path).encodedString()
        return """
            import os, time
            def main():
                with open(\(pids), 'a') as f:
                    f.write(str(os.getpid()) + '\\n')
                while not os.path.exists(\(path)):
                    time.sleep(0.02)
                return \(JSONValue.string(value).encodedString())

            """
    }

    /// The process ids that runs waiting for `flag` recorded.
    func runPIDs(waitingFor flag: String) -> [Int32] {
        let text = (try? String(contentsOf: directory.appendingPathComponent(flag + ".pids"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { Int32($0) }
    }

    /// Whether a process exists and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    /// Creates a flag file that jobs from `codeWaiting(for:returning:)` wait for.
    func raise(_ flag: String) {
        FileManager.default.createFile(atPath: directory.appendingPathComponent(flag).path, contents: Data())
    }

    // MARK: Database

    /// The server's database, opened beside it.
    func openStore() throws -> any AppStore {
        if let store { return try StoreEngine.openPostgres(store) }
        return try SQLiteStore.open(path: dataDirectory + "/agentos.sqlite")
    }

    /// Adds an account straight into the server's database, skipping the users API.
    func addUser(email: String, password: String, projectRole: ProjectRole) throws -> User {
        let store = try openStore()
        let user = try store.createUser(User(email: email, name: email, passwordHash: Passwords(cost: 4).hash(password), role: .user))
        let project = try #require(try store.project(idOrName: "default"))
        try store.setMember(projectID: project.id, userID: user.id, role: projectRole)
        return user
    }
}
