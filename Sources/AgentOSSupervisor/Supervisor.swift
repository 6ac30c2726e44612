import AgentOSPostgres
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// `agentos up`: starts every process of a topology, restarts any that dies (with backoff),
/// prefixes their output with their name, and stops them all on shutdown.
public final class Supervisor: Service, Sendable {
    /// One supervised process.
    public struct ProcessSpec: Sendable, Equatable {
        /// Prefix for its output lines.
        public let name: String
        /// Arguments after the executable.
        public let arguments: [String]
    }

    private let executable: String
    private let topology: Topology
    private let dataDirectory: String
    private let logger: Logger
    private let output = Mutex<Void>(())
    private let stopping = Atomic<Bool>(false)
    private let children = Mutex<[String: Process]>([:])

    /// A supervisor starting `executable` (this binary) in the roles `topology` names.
    public init(executable: String, topology: Topology, dataDirectory: String, logger: Logger) {
        self.executable = executable
        self.topology = topology
        self.dataDirectory = dataDirectory
        self.logger = logger
    }

    /// The processes after the server, which need its worker token, gateway token and key.
    /// With several servers, each gateway knows every server's API socket and each worker every
    /// bus, the workers starting on different servers in turn.
    public func dependentProcesses() -> [ProcessSpec] {
        var specs: [ProcessSpec] = []
        let servers = topology.allServers
        let server = servers.first
        let apis = servers.isEmpty ? ["tcp://127.0.0.1:5556"] : servers.map { Self.localEndpoint($0.api) }
        let buses = servers.isEmpty ? ["tcp://127.0.0.1:5555"] : servers.map { Self.localEndpoint($0.bus) }
        for (index, gateway) in (topology.gateways ?? []).enumerated() {
            var arguments = ["gateway", "--listen", gateway.listen, "--server", Self.rotated(apis, by: index).joined(separator: ",")]
            if server?.apiUsesCurve == true { arguments += ["--server-key", serverPublicKeyPath, "--token-file", gatewayTokenPath] }
            specs.append(ProcessSpec(name: "gateway-\(index + 1)", arguments: arguments))
        }
        var workerIndex = 0
        for group in topology.workers ?? [] {
            for number in 1...max(1, group.count) where group.count > 0 {
                var arguments = [
                    "worker", "--server", Self.rotated(buses, by: workerIndex).joined(separator: ","), "--token-file", workerTokenPath,
                    "--name", "\(group.name)-\(number)", "--drain-timeout", "10",
                ]
                workerIndex += 1
                if server?.busUsesCurve == true { arguments += ["--server-key", serverPublicKeyPath] }
                if let slots = group.slots { arguments += ["--slots", String(slots)] }
                if let labels = group.labels, !labels.isEmpty { arguments += ["--labels", labels.joined(separator: ",")] }
                specs.append(ProcessSpec(name: "\(group.name)-\(number)", arguments: arguments))
            }
        }
        if let desktop = topology.desktop {
            var arguments = ["desktop", "attach"]
            if let name = desktop.name { arguments += ["--name", name] }
            if let slots = desktop.slots { arguments += ["--slots", String(slots)] }
            if let key = desktop.serverKey { arguments += ["--server-key", key] }
            for dir in desktop.dirs ?? [] { arguments += ["--dir", dir] }
            specs.append(ProcessSpec(name: "desktop", arguments: arguments))
            if let listen = desktop.sandbox {
                specs.append(ProcessSpec(name: "desktop-sandbox", arguments: ["desktop", "sandbox", "--listen", listen]))
            }
        }
        return specs
    }

    /// Where a process on this machine connects to reach a socket bound to `endpoint`: a
    /// wildcard bind (`*`, `0.0.0.0`, `[::]`) is reached on loopback.
    static func localEndpoint(_ endpoint: String) -> String {
        Endpoint.reaching(endpoint, at: endpoint.hasPrefix("tcp://[::]:") ? "::1" : "127.0.0.1")
    }

    static func rotated(_ items: [String], by count: Int) -> [String] {
        guard !items.isEmpty else { return items }
        let start = count % items.count
        return Array(items[start...] + items[..<start])
    }

    /// The server process, if the topology has one (the first, when it has several).
    public func serverProcess(store: String? = nil) -> ProcessSpec? {
        serverProcesses(store: store).first
    }

    /// Every server process; several share one data directory (its keys) and `store`.
    public func serverProcesses(store: String? = nil) -> [ProcessSpec] {
        let servers = topology.allServers
        return servers.enumerated().map { index, server in
            ProcessSpec(
                name: servers.count == 1 ? "server" : "server-\(index + 1)",
                arguments: ["server", "--data", dataDirectory, "--bus", server.bus, "--api", server.api]
                    + (store.map { ["--store", $0] } ?? []) + (server.args ?? []))
        }
    }

    /// The local database's directory and port, when the topology runs one.
    var localDatabase: (directory: String, port: Int)? {
        guard topology.database?.local == true else { return nil }
        return (dataDirectory + "/postgres", topology.database?.port ?? 5433)
    }

    /// Starts the topology's local PostgreSQL cluster (made on first start) and its `agentos`
    /// database, and returns the cluster with the URL servers use.
    private func startLocalDatabase(directory: String, port: Int) async throws -> (LocalPostgres, String) {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // As root the cluster runs as the postgres user, which must pass through the data
        // directory to its own (never list it: its files stay 0600).
        if geteuid() == 0 { chmod(dataDirectory, 0o711) }
        let cluster = try await LocalPostgres.start(directory: URL(fileURLWithPath: directory), port: port)
        do {
            try await cluster.createDatabaseIfMissing("agentos")
        } catch {
            try? await cluster.stop()
            throw error
        }
        return (cluster, cluster.url(database: "agentos"))
    }

    var workerTokenPath: String { dataDirectory + "/worker-token" }
    var gatewayTokenPath: String { dataDirectory + "/gateway-token" }
    var serverPublicKeyPath: String { dataDirectory + "/server-key.pub" }

    public func run() async throws {
        let database = CurrentDatabase()
        var store = topology.database?.url
        if let local = localDatabase {
            let (cluster, url) = try await startLocalDatabase(directory: local.directory, port: local.port)
            write("[postgres] running in \(local.directory), on its Unix socket only (pid \(cluster.pid))\n")
            database.set(cluster)
            store = url
        }
        let servers = serverProcesses(store: store)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                if let local = localDatabase {
                    group.addTask { await self.superviseDatabase(database, directory: local.directory, port: local.port) }
                }
                // The first server makes the keys and accounts the others then find.
                for (index, server) in servers.enumerated() {
                    group.addTask { await self.supervise(server) }
                    guard index == 0 else { continue }
                    guard await waitForServerFiles() else {
                        logger.critical("the server did not write \(workerTokenPath), \(gatewayTokenPath) and \(serverPublicKeyPath); stopping")
                        stopAll()
                        return
                    }
                }
                for spec in dependentProcesses() {
                    group.addTask { await self.supervise(spec) }
                }
                announce(store: store)
            }
        } onGracefulShutdown: {
            self.stopAll()
        }
        // Every process has ended: the database goes last.
        if let database = database.current {
            do {
                try await database.stop()
                write("[postgres] stopped\n")
            } catch {
                write("[postgres] \(error)\n")
            }
        }
    }

    private func announce(store: String?) {
        var lines = ["agentos up: topology \(topology.name) running; Ctrl-C stops everything"]
        if let store { lines.append("  store:   \(store)") }
        for gateway in topology.gateways ?? [] { lines.append("  gateway: http://\(gateway.listen)/  (the web console; the API under /api/v1)") }
        if !topology.allServers.isEmpty {
            lines.append("  admin:   \(ProcessInfo.processInfo.environment["AGENTOS_ADMIN_EMAIL"] ?? "admin@localhost"), password in \(dataDirectory)/admin-password (unless AGENTOS_ADMIN_PASSWORD was set)")
            lines.append("  workers: token in \(workerTokenPath)")
            if topology.allServers.first?.busUsesCurve == true { lines.append("  bus:     CURVE, server key in \(serverPublicKeyPath)") }
        }
        write(lines.joined(separator: "\n") + "\n")
    }

    /// Restarts the local database when it exits on its own (with backoff, as the other
    /// processes): the servers' pools reconnect to it.
    private func superviseDatabase(_ database: CurrentDatabase, directory: String, port: Int) async {
        var delay: Duration = .milliseconds(500)
        while !stopping.load(ordering: .relaxed) {
            try? await Task.sleep(for: .seconds(1))
            guard let cluster = database.current, !cluster.isRunning, !stopping.load(ordering: .relaxed) else { continue }
            write("[postgres] exited; restarting in \(delay)\n")
            try? await Task.sleep(for: delay)
            do {
                let cluster = try await LocalPostgres.start(directory: URL(fileURLWithPath: directory), port: port)
                database.set(cluster)
                write("[postgres] running again (pid \(cluster.pid))\n")
                delay = .milliseconds(500)
            } catch {
                write("[postgres] cannot start: \(error)\n")
                delay = min(delay * 2, .seconds(30))
            }
        }
    }

    /// Waits for what the other processes need from the server's data directory.
    private func waitForServerFiles() async -> Bool {
        for _ in 0..<600 {
            if [workerTokenPath, gatewayTokenPath, serverPublicKeyPath].allSatisfy(FileManager.default.fileExists(atPath:)) { return true }
            if stopping.load(ordering: .relaxed) { return false }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Runs a process until shutdown, restarting it with exponential backoff (reset after a
    /// minute of healthy running) whenever it exits.
    private func supervise(_ spec: ProcessSpec) async {
        var delay: Duration = .milliseconds(500)
        while !stopping.load(ordering: .relaxed) {
            let started = ContinuousClock.now
            let status = await runOnce(spec)
            if stopping.load(ordering: .relaxed) { break }
            if ContinuousClock.now - started > .seconds(60) { delay = .milliseconds(500) }
            write("[\(spec.name)] exited with status \(status); restarting in \(delay)\n")
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(30))
        }
    }

    private func runOnce(_ spec: ProcessSpec) async -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = spec.arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let prefixer = LinePrefixer(prefix: "[\(spec.name)] ") { [self] text in write(text) }
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            prefixer.feed(data)
        }
        let status: Int32 = await withCheckedContinuation { continuation in
            process.terminationHandler = { process in continuation.resume(returning: process.terminationStatus) }
            do {
                try process.run()
                children.withLock { $0[spec.name] = process }
                // stopAll may have signalled the children just before this one was recorded.
                if stopping.load(ordering: .relaxed) { kill(process.processIdentifier, SIGTERM) }
            } catch {
                process.terminationHandler = nil
                write("[\(spec.name)] cannot start: \(error)\n")
                continuation.resume(returning: 127)
            }
        }
        children.withLock { _ = $0.removeValue(forKey: spec.name) }
        pipe.fileHandleForReading.readabilityHandler = nil
        prefixer.feed(pipe.fileHandleForReading.readDataToEndOfFile())
        prefixer.flush()
        return status
    }

    /// SIGTERM to every child now, SIGKILL to any still alive 20 seconds later.
    private func stopAll() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        let pids = children.withLock { $0.values.map(\.processIdentifier) }
        for pid in pids { kill(pid, SIGTERM) }
        let survivors = Set(pids)
        Task.detached { [self] in
            try? await Task.sleep(for: .seconds(20))
            let alive = children.withLock { $0.values.map(\.processIdentifier) }
            for pid in alive where survivors.contains(pid) { kill(pid, SIGKILL) }
        }
    }

    private func write(_ text: String) {
        output.withLock { _ in FileHandle.standardOutput.write(Data(text.utf8)) }
    }
}

/// The topology's local database as it runs now (restarted when it exits).
final class CurrentDatabase: Sendable {
    private let cluster = Mutex<LocalPostgres?>(nil)
    var current: LocalPostgres? { cluster.withLock { $0 } }
    func set(_ database: LocalPostgres) { cluster.withLock { $0 = database } }
}

/// Splits a byte stream into lines and hands each on with a prefix.
final class LinePrefixer: Sendable {
    private let prefix: String
    private let sink: @Sendable (String) -> Void
    private let pending = Mutex<[UInt8]>([])

    init(prefix: String, sink: @escaping @Sendable (String) -> Void) {
        self.prefix = prefix
        self.sink = sink
    }

    func feed(_ data: Data) {
        let lines = pending.withLock { pending -> [String] in
            pending.append(contentsOf: data)
            var lines: [String] = []
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
            return lines
        }
        if !lines.isEmpty { sink(lines.map { prefix + $0 + "\n" }.joined()) }
    }

    func flush() {
        let rest = pending.withLock { pending -> [UInt8] in
            defer { pending.removeAll() }
            return pending
        }
        if !rest.isEmpty { sink(prefix + String(decoding: rest, as: UTF8.self) + "\n") }
    }
}
