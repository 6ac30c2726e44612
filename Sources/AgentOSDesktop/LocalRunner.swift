import AgentOSAPI
import AgentOSSandbox
import AgentOSWire
import Foundation

/// `agentos desktop run`: runs a synced skill version on this machine, in the same sandbox
/// engine as workers, and records the run locally (its outcome committed and queued in the
/// outbox in one transaction). Works offline: it reads only the desktop's store.
public struct LocalRunner: Sendable {
    public let store: DesktopStore
    public let account: Account
    public let engine: any JobEngine
    /// The device name recorded with each run.
    public let device: String

    public init(store: DesktopStore, account: Account, engine: any JobEngine, device: String) {
        self.store = store
        self.account = account
        self.engine = engine
        self.device = device
    }

    /// What to run: a skill of a project, at a version or its latest synced one.
    public struct Target: Sendable {
        public var project: LocalProject
        public var version: LocalSkillVersion
    }

    /// Finds `skill` (`NAME` or `NAME@VERSION`) among what `account` (`email`) synced, in
    /// `project` (a name or an id) or, when none is given, in the only project that holds it.
    /// Throws a message that says what to do.
    public static func resolve(_ skill: String, project: String?, store: DesktopStore, account: Account, email: String) throws -> Target {
        var name = skill
        var number: Int?
        if let at = skill.lastIndex(of: "@") {
            name = String(skill[..<at])
            guard let parsed = Int(skill[skill.index(after: at)...]), parsed >= 1 else {
                throw DesktopError("\(skill): a version is a number, as in \(name)@2")
            }
            number = parsed
        }
        let found: LocalProject
        if let project {
            guard let local = try store.project(project, account: account) else {
                throw DesktopError("no project \(project) synced on this desktop for \(email): run `agentos desktop sync` while online")
            }
            found = local
        } else {
            let holding = try store.projectsHolding(skill: name, account: account)
            guard let only = holding.first else {
                throw DesktopError("no skill \(name) synced on this desktop: run `agentos desktop sync` while online (or name its --project)")
            }
            guard holding.count == 1 else {
                throw DesktopError("skill \(name) is in several projects (\(holding.map(\.name).joined(separator: ", "))): name one with --project")
            }
            found = only
        }
        guard let version = try store.skillVersion(account: account, projectID: found.id, skill: name, number: number) else {
            let held = try store.heldVersions(account: account, projectID: found.id, skill: name).sorted()
            throw DesktopError(held.isEmpty
                ? "project \(found.name) has no skill \(name) synced on this desktop: run `agentos desktop sync`"
                : "skill \(name) has no version \(number ?? 0) synced here (held: \(held.map(String.init).joined(separator: ", "))): run `agentos desktop sync`")
        }
        return Target(project: found, version: version)
    }

    /// Checks `inputs` against the version's input schema and returns the job to run.
    public func job(for target: Target, inputs: [String: JSONValue], runID: String) throws -> JobAssignment {
        let version = target.version
        if let text = version.inputSchema, let schema = try? JSONValue.parse(Data(text.utf8)), !schema.isNull {
            do {
                try JSONSchema(schema).validate(.object(inputs))
            } catch let violation as JSONSchema.Violation {
                throw DesktopError("inputs\(violation.path): \(violation.message)")
            } catch {
                throw DesktopError("skill \(version.skill)@\(version.version) has an input schema this desktop cannot read: \(error)")
            }
        }
        var limits = JobLimits()
        if let text = version.limits {
            guard let given = try? APICoding.decode(Schemas.LimitsInput.self, from: Data(text.utf8)) else {
                throw DesktopError("skill \(version.skill)@\(version.version) has limits this desktop cannot read; sync again")
            }
            limits = given.resolved
        }
        return JobAssignment(
            jobID: runID, attempt: 1, code: version.code, inputs: inputs, limits: limits, entrypoint: version.entrypoint,
            requirements: version.requirements)
    }

    /// The variables a run with `agent` (a synced agent of the target's project) or `provider`
    /// gets: the agent's configuration and its provider's key, which the server reveals now
    /// (`reveal`: a runner may, and it is audited) and which is never stored here.
    public func modelEnvironment(
        for target: Target, agent: String?, provider: String?,
        reveal: (_ projectID: String, _ provider: String) async throws -> Schemas.RevealedProvider
    ) async throws -> [String: String] {
        guard agent != nil || provider != nil else { return [:] }
        var environment: [String: String] = [:]
        var providerName = provider
        if let agent {
            guard let config = try store.agents(account: account, projectID: target.project.id).first(where: { $0.name == agent }) else {
                throw DesktopError("project \(target.project.name) has no agent \(agent) synced on this desktop: run `agentos desktop sync`")
            }
            if let provider, provider != config.provider {
                throw DesktopError("agent \(agent) uses provider \(config.provider), not \(provider): give one or the other")
            }
            providerName = config.provider
            let described: JSONValue = [
                "name": .string(config.name), "version": .number(Double(config.version)), "provider": .string(config.provider),
                "model": .string(config.model), "system_prompt": .string(config.systemPrompt),
                "skills": (try? JSONValue.parse(Data(config.skills.utf8))) ?? [], "params": (try? JSONValue.parse(Data(config.params.utf8))) ?? [:],
            ]
            environment["AGENTOS_AGENT"] = described.encodedString()
            environment["AGENTOS_MODEL"] = config.model
        }
        guard let providerName else { return environment }
        let revealed: Schemas.RevealedProvider
        do {
            revealed = try await reveal(target.project.id, providerName)
        } catch {
            throw DesktopError("this run needs provider \(providerName)'s key, which the server gives only at run time: \(error)")
        }
        environment["AGENTOS_PROVIDER"] = revealed.name
        environment["AGENTOS_PROVIDER_KIND"] = revealed.kind
        environment["AGENTOS_PROVIDER_BASE_URL"] = revealed.baseURL
        environment["AGENTOS_PROVIDER_API_KEY"] = revealed.apiKey
        return environment
    }

    /// Runs `target` with `inputs` and `folders`, handing its output to `onOutput` as it is
    /// written; `environment` is set for this run only (never recorded). The run is recorded
    /// before it starts and its outcome committed to the outbox when it ends; cancelling the
    /// calling task cancels the run (recorded as cancelled).
    public func run(
        _ target: Target, inputs: [String: JSONValue], folders: [SharedFolder], environment: [String: String] = [:], onOutput: JobOutputHandler?
    ) async throws -> LocalRun {
        let runID = UUID().uuidString.lowercased()
        let job = try job(for: target, inputs: inputs, runID: runID)
        if job.limits.network, target.project.allowNetwork != true {
            throw DesktopError("skill \(target.version.skill) asks for the network, which project \(target.project.name) does not allow")
        }
        let folderList = JSONValue.array(folders.map { ["name": .string($0.name), "writable": .bool($0.writable)] })
        var run = try store.insert(LocalRun(
            id: runID, account: account.key, projectID: target.project.id, projectName: target.project.name,
            skill: target.version.skill, version: target.version.version, inputs: JSONValue.object(inputs).encodedString(),
            folders: folderList.encodedString(), status: JobStatus.running.rawValue, result: nil, stdout: "", stderr: "",
            outputTruncated: false, exitCode: nil, error: nil, device: device, process: ProcessIdentity.current,
            startedAt: Date(), finishedAt: nil, syncState: .local, syncAttempts: 0))
        let outcome = await engine.run(job, context: JobRunContext(folders: folders, environment: environment, onOutput: onOutput))
        run.status = outcome.status.rawValue
        run.result = outcome.result.map { $0.encodedString() }
        run.stdout = outcome.stdout
        run.stderr = outcome.stderr
        run.outputTruncated = outcome.outputTruncated
        run.exitCode = outcome.exitCode
        run.error = outcome.error
        run.finishedAt = Date()
        try store.finish(run)
        run.syncState = .pending
        return run
    }
}
