import AgentOSSandbox
import AgentOSSupervisor
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Start and supervise every process of a topology.")

    @Option(help: "Topology file (AGENTOS_TOPOLOGY). Default topology/single-node.yaml, else the built-in single-node topology") var topology: String?
    @Option(help: "Data directory for the server (AGENTOS_DATA). Default ./.agentos") var data: String?
    @Flag(help: "Start the workers with --insecure-no-sandbox (AGENTOS_INSECURE_NO_SANDBOX=1): jobs run WITHOUT isolation")
    var insecureNoSandbox = false

    func run() async throws {
        Settings.bootstrapLogging()
        let logger = Logger(label: "agentos.up")
        let parsed: Topology
        if let path = Settings.value(topology, env: "TOPOLOGY") {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CommandFailed(message: "cannot read topology file \(path)")
            }
            parsed = try Topology.parse(text)
        } else if let text = try? String(contentsOfFile: "topology/single-node.yaml", encoding: .utf8) {
            parsed = try Topology.parse(text)
        } else {
            parsed = try Topology.parse(Topology.singleNodeYAML)
        }
        if insecureNoSandbox {
            // The workers read it from the environment they inherit.
            setenv("AGENTOS_INSECURE_NO_SANDBOX", "1", 1)
        } else if !(parsed.workers ?? []).isEmpty, Settings.environment("INSECURE_NO_SANDBOX") != "1",
                  !(Settings.environment("BWRAP").map { FileManager.default.isExecutableFile(atPath: $0) } ?? (SandboxConfiguration.findBubblewrap() != nil)) {
            throw CommandFailed(message: """
                bubblewrap (bwrap) is not installed, and the workers never run jobs without a sandbox: install it \
                (apt-get install bubblewrap; scripts/run does), or pass --insecure-no-sandbox to run jobs unisolated (unsafe)
                """)
        }
        let dataDirectory = URL(fileURLWithPath: Settings.value(data, env: "DATA", default: "./.agentos")).standardizedFileURL.path
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let supervisor = Supervisor(executable: executable, topology: parsed, dataDirectory: dataDirectory, logger: logger)
        let group = ServiceGroup(services: [supervisor], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
