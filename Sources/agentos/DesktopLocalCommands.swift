import AgentOSAPI
import AgentOSClient
import AgentOSDesktop
import AgentOSSandbox
import AgentOSWire
import ArgumentParser
import Dispatch
import Foundation
import Logging

/// What every local desktop command opens: the login it acts for and the desktop's store,
/// with runs a stopped process left `running` marked interrupted.
struct DesktopLocal {
    let configDirectory: ConfigDirectory
    let dataDirectory: DesktopDataDirectory
    let credentials: Credentials
    let account: Account
    let store: DesktopStore

    /// Opens them; needs a login (`agentos login`), not the network.
    static func open() throws -> DesktopLocal {
        let configDirectory = ConfigDirectory()
        let credentials = try configDirectory.loadCredentials()
        let dataDirectory = DesktopDataDirectory()
        let store = try DesktopStore.open(dataDirectory)
        try store.recoverInterrupted()
        return DesktopLocal(
            configDirectory: configDirectory, dataDirectory: dataDirectory, credentials: credentials,
            account: Account(userID: credentials.userID, gateway: credentials.gateway), store: store)
    }

    /// A client with a fresh token (refreshed when needed, which needs the gateway), for the
    /// login this command started with: another login since is not used for its runs.
    func client() async throws -> GatewayClient {
        let fresh = try await configDirectory.freshCredentials()
        guard Account(userID: fresh.userID, gateway: fresh.gateway) == account else {
            throw DesktopError("the login changed to \(fresh.email) at \(fresh.gateway) while this command ran; run it again")
        }
        return try GatewayClient(credentials: fresh)
    }

    /// The outbox of this login, pushing under the data directory's lock.
    func outbox(client: GatewayClient, timeout: TimeInterval = 60) -> RunOutbox {
        RunOutbox(store: store, client: client, account: account, lockPath: dataDirectory.path + "/outbox.lock", timeout: timeout)
    }

    /// This machine's name, as runs record it.
    static var device: String { DesktopAttach.hostName }
}

extension DesktopCommand {
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync",
            abstract: "Pull the skills and agents of your projects (only what changed since the last sync) and push the runs waiting in the outbox.")

        @Option(help: "Sync only this project (name or id)") var project: String?
        @Flag(help: "Print what was done as JSON") var json = false

        func run() async throws {
            let local = try DesktopLocal.open()
            let client = try await local.client()
            let pulled = try await DesktopSync(store: local.store, client: client, account: local.account).pull(project: project)
            let pushed = try await local.outbox(client: client).push()
            if json {
                print(JSONValue.object([
                    "projects": .array(pulled.projects.map { .string($0) }),
                    "fetched_versions": .array(pulled.fetchedVersions.map { .string($0) }),
                    "updated_agents": .array(pulled.updatedAgents.map { .string($0) }),
                    "requests": .number(Double(pulled.requests)),
                    "runs_synced": .number(Double(pushed.synced)), "runs_rejected": .number(Double(pushed.rejected)),
                    "runs_waiting": .number(Double(pushed.waiting)),
                ]).prettyString)
            } else {
                print("""
                    synced \(pulled.projects.count) project\(pulled.projects.count == 1 ? "" : "s") (\(pulled.projects.joined(separator: ", "))): \
                    \(pulled.fetchedVersions.count) new skill version\(pulled.fetchedVersions.count == 1 ? "" : "s")\
                    \(pulled.fetchedVersions.isEmpty ? "" : " (\(pulled.fetchedVersions.joined(separator: ", ")))"), \
                    \(pulled.updatedAgents.count) agent\(pulled.updatedAgents.count == 1 ? "" : "s") updated, \(pulled.requests) requests
                    outbox: \(pushed.synced) run\(pushed.synced == 1 ? "" : "s") pushed, \(pushed.rejected) refused, \(pushed.waiting) waiting
                    """)
            }
            if let reason = pushed.stoppedBecause {
                throw CommandFailed(message: "\(pushed.waiting) run(s) still wait to sync: \(reason)")
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a synced skill on this machine, online or offline, on local folders; the run syncs to the server through the outbox.",
            discussion: """
                Each --dir folder is seen by the job at /mnt/<folder name>, read-only unless given as PATH:rw; \
                the job sees nothing else of this machine. With --agent or --provider, the job finds the model's \
                settings in its environment: AGENTOS_AGENT (the agent as JSON), AGENTOS_MODEL, AGENTOS_PROVIDER, \
                AGENTOS_PROVIDER_KIND, AGENTOS_PROVIDER_BASE_URL and AGENTOS_PROVIDER_API_KEY. Output is printed \
                as it is written, then the result; the exit status is 0 only if the run succeeded.
                """)

        @Argument(help: "The skill, as NAME or NAME@VERSION (default: the latest synced version)") var skill: String
        @Option(help: "The project holding the skill (name or id); needed when several do") var project: String?
        @Option(help: "Inputs as a JSON object, passed to main(**inputs)") var input: String?
        @Option(name: .customLong("dir"), help: "A folder the job may use, at /mnt/<name>: PATH (read-only) or PATH:rw (repeatable)")
        var dirs: [String] = []
        @Option(help: "Give the run this synced agent's configuration and its provider's key, revealed by the server now (needs the network; never stored)")
        var agent: String?
        @Option(help: "Give the run this provider's key, revealed by the server now (needs the network; never stored)")
        var provider: String?
        @Flag(help: "Keep the run in the outbox instead of pushing it now") var noPush = false
        @OptionGroup(title: "Sandbox") var sandbox: SandboxOptions

        func validate() throws {
            if let input, (try? JSONValue.parse(Data(input.utf8)))?.objectValue == nil {
                throw ValidationError("--input must be a JSON object, e.g. '{\"a\": 1}'")
            }
        }

        func run() async throws {
            Settings.bootstrapLogging()
            let local = try DesktopLocal.open()
            let folders: [SharedFolder]
            do {
                folders = try DesktopAttach.sharedFolders(dirs)
            } catch let error as SandboxError {
                throw ValidationError(error.description)
            }
            if !folders.isEmpty, sandbox.isInsecure {
                throw ValidationError("--dir needs the sandbox: without it the job would see the whole machine, not /mnt")
            }
            guard folders.count <= FolderName.maxPerJob else {
                throw ValidationError("a run may have at most \(FolderName.maxPerJob) folders (--dir given \(folders.count) times)")
            }
            let inputs = input.flatMap { try? JSONValue.parse(Data($0.utf8)) }?.objectValue ?? [:]
            let target: LocalRunner.Target
            do {
                target = try LocalRunner.resolve(skill, project: project, store: local.store, account: local.account, email: local.credentials.email)
            } catch let error as DesktopError {
                throw CommandFailed(message: error.description)
            }
            var logger = Logger(label: "agentos.desktop")
            // The terminal is the job's: only what goes wrong is said.
            if Settings.environment("LOG_LEVEL") == nil { logger.logLevel = .warning }
            let engine = try await sandbox.makeEngine(logger: logger, oneShot: true)
            defer { engine.close() }
            do {
                try DesktopAttach.checkShareable(folders, configDirectory: local.configDirectory, stateDirectory: engine.stateDirectory)
                try engine.checkAccess(to: folders)
            } catch let error as SandboxError {
                throw ValidationError(error.description)
            }
            if !target.project.accessible {
                FileHandle.standardError.write(Data("""
                    agentos: warning: project \(target.project.name) was no longer yours at the last sync; this run will stay on this desktop

                    """.utf8))
            }
            let runner = LocalRunner(store: local.store, account: local.account, engine: engine, device: DesktopLocal.device)
            let environment: [String: String]
            do {
                environment = try await runner.modelEnvironment(for: target, agent: agent, provider: provider) { projectID, name in
                    try await local.client().send(
                        "POST", "/api/v1/projects/\(projectID.pathEscaped)/providers/\(name.pathEscaped)/reveal", as: Schemas.RevealedProvider.self)
                }
            } catch let error as DesktopError {
                throw CommandFailed(message: error.description)
            }
            let printer = OutputPrinter()
            let task = Task { try await runner.run(target, inputs: inputs, folders: folders, environment: environment, onOutput: printer.write) }
            // Ctrl-C or a TERM cancels the run, which is then recorded as cancelled.
            let interrupts = [SIGINT, SIGTERM].map { number in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number)
                source.setEventHandler { task.cancel() }
                source.resume()
                return source
            }
            let run: LocalRun
            do {
                run = try await task.value
            } catch let error as DesktopError {
                throw CommandFailed(message: error.description)
            }
            // The run is recorded: from here Ctrl-C simply ends the command (the outbox keeps the run).
            interrupts.forEach { $0.cancel() }
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
            // The outcome first: pushing may wait on the network.
            if run.jobStatus == .succeeded {
                // Unbuffered, as the job's own output was.
                let result = (run.result.flatMap { try? JSONValue.parse(Data($0.utf8)) } ?? .null).prettyString
                try? FileHandle.standardOutput.write(contentsOf: Data((result + "\n").utf8))
            } else {
                let error = run.error ?? "no error given"
                FileHandle.standardError.write(Data("agentos: run \(run.id) \(error.hasPrefix(run.status) ? error : "\(run.status): \(error)")\n".utf8))
            }
            if noPush {
                FileHandle.standardError.write(Data("agentos: the run waits in the outbox; `agentos desktop sync` pushes it\n".utf8))
            } else {
                await push(local)
            }
            if run.jobStatus != .succeeded { throw ExitCode.failure }
        }

        /// Pushes the outbox now, briefly; offline, the run waits there (and says so).
        private func push(_ local: DesktopLocal) async {
            let note: String
            do {
                let report = try await local.outbox(client: try await local.client(), timeout: 5).push()
                if let reason = report.stoppedBecause {
                    note = "the run waits in the outbox (\(report.waiting) in all): \(reason)"
                } else {
                    note = report.busy ? "another desktop process is pushing the outbox" : "the run is synced to the server"
                }
            } catch {
                note = "the run waits in the outbox: \(error)"
            }
            FileHandle.standardError.write(Data("agentos: \(note)\n".utf8))
        }
    }

    struct Runs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "runs", abstract: "List this desktop's local runs, newest first, with their sync state.")

        @Option(help: "How many") var limit: Int = 20
        @Flag(help: "Print JSON") var json = false
        @Flag(help: "Put the runs the server refused back in the outbox (once you may write runs in their project again); the next sync pushes them")
        var retry = false

        func run() async throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1-10000") }
            let local = try DesktopLocal.open()
            if retry {
                let count = try local.store.requeueRejected(account: local.account)
                FileHandle.standardError.write(Data("agentos: \(count) refused run(s) back in the outbox; `agentos desktop sync` pushes them\n".utf8))
            }
            let runs = try local.store.runs(account: local.account, limit: limit)
            if json {
                print(JSONValue.array(runs.map(\.json)).prettyString)
                return
            }
            guard !runs.isEmpty else {
                print("no local runs yet: `agentos desktop run SKILL` makes one")
                return
            }
            print(Table.render(
                header: ["RUN", "STARTED", "PROJECT", "SKILL", "STATUS", "SYNC"],
                rows: runs.map { run in
                    [String(run.id.prefix(8)), Timestamp.format(run.startedAt), run.projectName, "\(run.skill)@\(run.version)", run.status, run.syncSummary]
                }))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Show the login, whether the server is reachable, what is synced and what waits to sync.")

        @Flag(help: "Print JSON") var json = false

        func run() async throws {
            let local = try DesktopLocal.open()
            let reachability = await Self.reachability(local.credentials)
            var projects: [JSONValue] = []
            var lines = [
                "login:    \(local.credentials.email) at \(local.credentials.gateway)",
                "server:   \(reachability.reachable ? "reachable" : "unreachable: \(reachability.detail)")",
                "data:     \(local.dataDirectory.path)",
            ]
            for project in try local.store.projects(account: local.account) {
                let skills = try local.store.skills(account: local.account, projectID: project.id)
                let agents = try local.store.agents(account: local.account, projectID: project.id)
                let versions = skills.reduce(0) { $0 + $1.versions.count }
                lines.append("""
                    project:  \(project.name)\(project.accessible ? "" : " (no longer accessible)"): \(skills.count) skill\(skills.count == 1 ? "" : "s") \
                    (\(versions) version\(versions == 1 ? "" : "s")), \(agents.count) agent\(agents.count == 1 ? "" : "s"), synced \(Timestamp.format(project.syncedAt))
                    """)
                projects.append([
                    "name": .string(project.name), "id": .string(project.id), "accessible": .bool(project.accessible),
                    "skills": .array(skills.map { ["name": .string($0.name), "versions": .array($0.versions.map { .number(Double($0)) })] }),
                    "agents": .array(agents.map { .string($0.name) }), "synced_at": .string(Timestamp.format(project.syncedAt)),
                ])
            }
            if projects.isEmpty { lines.append("synced:   nothing yet: run `agentos desktop sync`") }
            let counts = try local.store.runCounts(account: local.account)
            let elsewhere = try local.store.pendingElsewhere(account: local.account)
            lines.append("""
                outbox:   \(counts[.pending] ?? 0) run(s) wait to sync, \(counts[.synced] ?? 0) synced, \(counts[.rejected] ?? 0) refused by the server\
                \(counts[.local].map { ", \($0) running" } ?? "")\(elsewhere > 0 ? "; \(elsewhere) of other logins wait for those logins" : "")
                """)
            let service = LocalSandboxService.state(in: local.dataDirectory)
            lines.append("sandbox:  \(service.map { "local sandbox service at \($0.url) (\($0.tokenFile.map { "token in \($0)" } ?? "token given with --token"))" } ?? "no local sandbox service (`agentos desktop sandbox` starts one)")")
            if json {
                print(JSONValue.object([
                    "email": .string(local.credentials.email), "gateway": .string(local.credentials.gateway),
                    "server_reachable": .bool(reachability.reachable), "server_detail": .string(reachability.detail),
                    "data_dir": .string(local.dataDirectory.path), "projects": .array(projects),
                    "runs": .object(Dictionary(uniqueKeysWithValues: SyncState.allCases.map { ($0.rawValue, .number(Double(counts[$0] ?? 0))) })),
                    "sandbox_service": service.map { .string($0.url) } ?? .null,
                ]).prettyString)
            } else {
                print(lines.joined(separator: "\n"))
            }
        }

        /// Whether the gateway (and the server behind it) answers `GET /healthz` within a few seconds.
        static func reachability(_ credentials: Credentials) async -> (reachable: Bool, detail: String) {
            guard let url = URL(string: credentials.gateway) else { return (false, "bad gateway URL") }
            do {
                _ = try await GatewayClient(baseURL: url).send("GET", "/healthz", timeout: 5)
                return (true, "ok")
            } catch {
                return (false, "\(error)")
            }
        }
    }
}

/// Writes a running job's output to this process's stdout and stderr as it comes.
final class OutputPrinter: Sendable {
    func write(_ stream: JobOutputStream, _ bytes: ArraySlice<UInt8>) {
        let handle = stream == .stdout ? FileHandle.standardOutput : FileHandle.standardError
        // A reader that went away (`| head`) must not end the run.
        try? handle.write(contentsOf: Data(bytes))
    }
}

extension LocalRun {
    /// Where it stands with the server, in a few words.
    var syncSummary: String {
        switch syncState {
        case .local: "not yet (running)"
        case .synced: "synced: job \(serverJobID ?? "?")"
        case .pending: syncAttempts == 0 ? "waiting" : "waiting (\(syncAttempts) tries; last: \(Self.brief(syncError)))"
        case .rejected: "refused: \(Self.brief(syncError))"
        }
    }

    /// A reason cut to fit a table cell (`desktop runs --json` has it whole).
    static func brief(_ reason: String?) -> String {
        guard let reason else { return "?" }
        return reason.count > 80 ? String(reason.prefix(79)) + "…" : reason
    }

    /// The run as `desktop runs --json` shows it.
    var json: JSONValue {
        [
            "id": .string(id), "project": .string(projectName), "skill": .string(skill), "version": .number(Double(version)),
            "status": .string(status), "inputs": (try? JSONValue.parse(Data(inputs.utf8))) ?? .null,
            "result": result.flatMap { try? JSONValue.parse(Data($0.utf8)) } ?? .null, "error": error.map { .string($0) } ?? .null,
            "exit_code": exitCode.map { .number(Double($0)) } ?? .null, "output_truncated": .bool(outputTruncated),
            "folders": (try? JSONValue.parse(Data(folders.utf8))) ?? .null, "device": .string(device),
            "started_at": .string(Timestamp.format(startedAt)), "finished_at": finishedAt.map { .string(Timestamp.format($0)) } ?? .null,
            "sync_state": .string(syncState.rawValue), "sync_attempts": .number(Double(syncAttempts)),
            "sync_error": syncError.map { .string($0) } ?? .null, "server_job_id": serverJobID.map { .string($0) } ?? .null,
        ]
    }
}
