import AgentOSSandbox
import AgentOSWire
import AgentOSWorker
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import ZeroMQ

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run a cloud worker connected to a server's job bus.")

    @Option(help: "The server's bus endpoint, or several servers' sharing one store, comma-separated: the worker moves to the next when its server goes silent (AGENTOS_SERVER). Default tcp://127.0.0.1:5555") var server: String?
    @Option(help: "Worker token (AGENTOS_TOKEN)") var token: String?
    @Option(help: "File holding the worker token (AGENTOS_TOKEN_FILE)") var tokenFile: String?
    @Option(help: "Jobs run at once (AGENTOS_SLOTS). Default: number of CPUs") var slots: Int?
    @Option(help: "Comma-separated labels (AGENTOS_LABELS)") var labels: String?
    @Option(help: "Worker name (AGENTOS_NAME). Default HOST-PID") var name: String?
    @Option(help: "Seconds to finish running jobs on shutdown before handing them back (AGENTOS_DRAIN_TIMEOUT). Default 30") var drainTimeout: Int?
    @OptionGroup(title: "Bus security") var security: BusSecurityOptions
    @OptionGroup(title: "Sandbox") var sandbox: SandboxOptions

    func run() async throws {
        Settings.bootstrapLogging()
        let secret = try WorkerCommand.readToken(token: Settings.value(token, env: "TOKEN"), file: Settings.value(tokenFile, env: "TOKEN_FILE"))
        // Several servers sharing one store: a comma-separated list, tried in turn.
        let endpoints = Settings.value(server, env: "SERVER", default: "tcp://127.0.0.1:5555").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = endpoints.first else { throw ValidationError("--server needs a bus endpoint") }
        var configuration = WorkerConfiguration(serverEndpoint: first, kind: .cloud, credential: WorkerCredential(workerToken: secret))
        configuration.serverEndpoints = endpoints
        // Beyond loopback anywhere, CURVE everywhere: one key serves every server sharing a store.
        configuration.curve = try security.curve(
            endpoint: endpoints.first { !Endpoint.isLocal($0) } ?? first, token: { secret })
        configuration.slots = try Settings.int(slots, env: "SLOTS", default: configuration.slots)
        guard (1...1024).contains(configuration.slots) else { throw ValidationError("--slots must be 1-1024") }
        configuration.labels = (Settings.value(labels, env: "LABELS") ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        if let name = Settings.value(name, env: "NAME") { configuration.name = name }
        configuration.drainTimeout = Double(try Settings.int(drainTimeout, env: "DRAIN_TIMEOUT", default: 30))
        let logger = Logger(label: "agentos.worker")
        let engine = try await sandbox.makeEngine(logger: logger)
        defer { engine.close() }
        let agent = try WorkerAgent(configuration: configuration, engine: engine, logger: logger)
        let group = ServiceGroup(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    static func readToken(token: String?, file: String?) throws -> String {
        if let token { return token }
        guard let file else { throw ValidationError("give the worker token with --token or --token-file (or AGENTOS_TOKEN / AGENTOS_TOKEN_FILE)") }
        return try readSecret(file: file, what: "worker token")
    }

    /// A token kept in a file (a worker's, a gateway's), trimmed; a clear error when it cannot be.
    static func readSecret(file: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CommandFailed(message: FileManager.default.fileExists(atPath: file)
                ? "cannot read the \(what) file \(file): permission denied"
                : "the \(what) file \(file) does not exist")
        }
        let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else { throw CommandFailed(message: "the \(what) file \(file) is empty") }
        return secret
    }
}
