import AgentOSClient
import AgentOSDesktop
import AgentOSSandbox
import ArgumentParser
import Logging
import ServiceLifecycle

struct DesktopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "desktop", abstract: "Use this machine with AgentOS.", subcommands: [Attach.self])

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
}
