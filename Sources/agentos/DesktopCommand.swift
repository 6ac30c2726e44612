import AgentOSClient
import Foundation
import AgentOSDesktop
import AgentOSSandbox
import ArgumentParser
import Logging
import ServiceLifecycle

struct DesktopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "desktop", abstract: "Use this machine with AgentOS: sync skills, run them locally, attach as a private worker.",
        subcommands: [Sync.self, Run.self, Runs.self, Status.self, Attach.self, Sandbox.self])

    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "attach", abstract: "Serve the logged-in user's private jobs on this machine until stopped.")

        @Option(help: "Worker name (AGENTOS_NAME). Default HOST-desktop") var name: String?
        @Option(help: "Jobs run at once (AGENTOS_SLOTS). Default: number of CPUs") var slots: Int?
        @Option(help: "The server's CURVE public key, or a file holding it (AGENTOS_SERVER_KEY); checked against GET /cluster. Needed the first time with a plain-HTTP gateway beyond loopback")
        var serverKey: String?
        @Flag(help: "Talk plain TCP to a bus beyond loopback that offers no CURVE key (AGENTOS_INSECURE_PLAINTEXT_BUS=1)")
        var insecurePlaintextBus = false
        @Option(
            name: .customLong("dir"),
            help: ArgumentHelp(
                "Share a folder with your private jobs, which name it in dirs and see it at /mnt/<its name>; read-only unless given as PATH:rw. Repeatable (AGENTOS_DIRS, comma-separated)",
                valueName: "PATH[:rw]"))
        var dirs: [String] = []
        @OptionGroup(title: "Sandbox") var sandbox: SandboxOptions

        func run() async throws {
            Settings.bootstrapLogging()
            let logger = Logger(label: "agentos.desktop")
            let directory = ConfigDirectory()
            let slotCount = try Settings.int(slots, env: "SLOTS")
            if let slotCount, !(1...1024).contains(slotCount) { throw ValidationError("--slots must be 1-1024") }
            let folders: [SharedFolder]
            do {
                folders = try DesktopAttach.sharedFolders(Settings.list(dirs, env: "DIRS"))
            } catch {
                throw ValidationError("\(error)")
            }
            if !folders.isEmpty, sandbox.isInsecure {
                throw ValidationError("--dir needs the sandbox: with --insecure-no-sandbox a job would see the whole machine, not only /mnt")
            }
            let lock = try DesktopLock(configDirectory: directory)
            let engine = try await sandbox.makeEngine(logger: logger)
            defer { engine.close() }
            do {
                try DesktopAttach.checkShareable(folders, configDirectory: directory, stateDirectory: engine.stateDirectory)
                try engine.checkAccess(to: folders)
            } catch let error as SandboxError {
                throw ValidationError(error.description)
            }
            let services = try await DesktopAttach.makeServices(
                configDirectory: directory,
                name: Settings.value(name, env: "NAME"), slots: slotCount,
                serverKey: try Settings.value(serverKey, env: "SERVER_KEY").map(BusSecurityOptions.readKey),
                insecurePlaintextBus: insecurePlaintextBus || Settings.environment("INSECURE_PLAINTEXT_BUS") == "1", folders: folders,
                engine: engine, logger: logger)
            let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
            withExtendedLifetime(lock) {}
        }
    }

    struct Sandbox: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sandbox",
            abstract: "Serve this machine's sandbox engine on loopback for a desktop UI (POST /execute, token-protected).",
            discussion: """
                The token is kept in <data>/sandbox-token (0600), and <data>/sandbox.json says where the service is \
                (url, token_file, pid) while it runs; <data> is $XDG_DATA_HOME/agentos (default ~/.local/share/agentos). \
                `agentos up --topology topology/desktop.yaml` starts and supervises it beside `desktop attach`.
                """)

        @OptionGroup var service: SandboxServiceOptions

        func validate() throws {
            if let listen = service.listen ?? Settings.environment("LISTEN") {
                let (host, _) = try Settings.hostAndPort(listen)
                guard ["127.0.0.1", "::1", "localhost"].contains(host) else {
                    throw ValidationError("the desktop's sandbox service listens on loopback only (127.0.0.1, ::1 or localhost), not \(host); use `agentos sandbox` to serve others")
                }
            }
        }

        func run() async throws {
            Settings.bootstrapLogging()
            let logger = Logger(label: "agentos.desktop.sandbox")
            let data = DesktopDataDirectory()
            try data.prepare()
            guard let lock = try LocalSandboxService.lock(in: data) else {
                let running = LocalSandboxService.state(in: data)
                throw CommandFailed(message: "a local sandbox service already runs\(running.map { " at \($0.url) (pid \($0.pid))" } ?? ""); stop it first, or use that one")
            }
            defer { lock.release() }
            let (host, port) = try Settings.hostAndPort(Settings.value(service.listen, env: "LISTEN", default: "127.0.0.1:8090"))
            let defaultTokenFile = service.tokenFilePath(defaultFile: LocalSandboxService.tokenFile(in: data))
            let token = try service.resolveToken(defaultFile: defaultTokenFile, logger: logger)
            // A token given outright is in no file.
            let tokenFile = Settings.value(service.token, env: "SANDBOX_TOKEN") == nil ? defaultTokenFile : nil
            defer { LocalSandboxService.clear(in: data) }
            try await service.serve(host: host, port: port, token: token, logger: logger) { port in
                let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
                do {
                    try LocalSandboxService.announce(.init(url: url, tokenFile: tokenFile), in: data)
                    logger.notice("local sandbox service", metadata: ["url": "\(url)", "token_file": "\(tokenFile ?? "none: given with --token")"])
                } catch {
                    logger.error("cannot say where the service is", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
