import AgentOSWire
import Foundation

/// What every engine shares: single steps of the bus's group commit, and the usual arguments
/// (now, no filter) that a protocol's requirements cannot default themselves.
extension AppStore {
    /// Moves a queued job to running on a worker, counting the attempt. Nil when the job is
    /// no longer queued (another path took it first). One assignment of `commitBusBatch`.
    public func assign(jobID: String, workerID: String, workerName: String, at now: Date = Date()) throws -> Job? {
        let assignment = Assignment(jobID: jobID, workerID: workerID, workerName: workerName)
        guard try commitBusBatch(results: [], assignments: [assignment], connected: [], lease: nil, at: now).assigned.first! != nil else { return nil }
        return try job(id: jobID)
    }

    /// Records a worker's outcome, if it belongs to the job's current attempt on that worker;
    /// nil for a stale or duplicate result, which changes nothing. One result of `commitBusBatch`.
    public func finish(_ outcome: JobOutcome, workerID: String, at now: Date = Date()) throws -> Job? {
        guard try commitBusBatch(results: [(outcome, workerID)], assignments: [], connected: [], lease: nil, at: now).finished.first! != nil
        else { return nil }
        return try job(id: outcome.jobID)
    }

    public func commitBusBatch(
        results: [(outcome: JobOutcome, workerID: String)], assignments: [Assignment], connected: [WorkerRecord] = []
    ) throws -> BusBatchCommit {
        try commitBusBatch(results: results, assignments: assignments, connected: connected, lease: nil, at: Date())
    }

    public func commitBusBatch(
        results: [(outcome: JobOutcome, workerID: String)], assignments: [Assignment], at now: Date
    ) throws -> BusBatchCommit {
        try commitBusBatch(results: results, assignments: assignments, connected: [], lease: nil, at: now)
    }

    public func rotateRefreshToken(hash: String, newHash: String) throws -> RefreshOutcome {
        try rotateRefreshToken(hash: hash, newHash: newHash, now: Date())
    }

    public func revokeSession(id: String, reason: String) throws -> Bool {
        try revokeSession(id: id, reason: reason, now: Date())
    }

    public func usePersonalToken(hash: String) throws -> PersonalToken? {
        try usePersonalToken(hash: hash, now: Date())
    }

    public func revokePersonalToken(id: String) throws -> Bool {
        try revokePersonalToken(id: id, now: Date())
    }

    public func revokeWorkerToken(id: String) throws -> Bool {
        try revokeWorkerToken(id: id, now: Date())
    }

    public func busPeer(curveKey: String) throws -> BusPeer? {
        try busPeer(curveKey: curveKey, now: Date())
    }

    public func appendMessage(sessionID: String, role: MessageRole, content: String, jobID: String?, by userID: String) throws -> ChatMessage {
        try appendMessage(sessionID: sessionID, role: role, content: content, jobID: jobID, by: userID, now: Date())
    }

    public func files(projectID: String, limit: Int) throws -> [StoredFile] {
        try files(projectID: projectID, limit: limit, before: nil)
    }

    public func submit(_ job: Job) throws -> (job: Job, created: Bool) {
        try submit(job, files: [])
    }

    public func runningJobs() throws -> [Job] {
        try runningJobs(workerID: nil)
    }

    public func release(jobID: String, attempt: Int, workerID: String) throws -> Job? {
        try release(jobID: jobID, attempt: attempt, workerID: workerID, at: Date())
    }

    public func loseJob(jobID: String, attempt: Int, at now: Date = Date()) throws -> Job? {
        try loseJob(jobID: jobID, attempt: attempt, heldBy: nil, at: now)
    }

    public func expire(jobID: String, attempt: Int, at now: Date = Date()) throws -> Job? {
        try expire(jobID: jobID, attempt: attempt, heldBy: nil, at: now)
    }

    public func cancel(jobID: String) throws -> (before: Job, after: Job)? {
        try cancel(jobID: jobID, at: Date())
    }

    public func jobs(projectID: String, status: JobStatus?, origin: String?, after: String?, limit: Int) throws -> [Job] {
        try jobs(projectID: projectID, status: status, origin: origin, skill: nil, sessionID: nil, after: after, limit: limit)
    }

    public func failUnclaimed(queuedBefore cutoff: Date) throws -> [Job] {
        try failUnclaimed(queuedBefore: cutoff, at: Date())
    }

    public func createAgent(projectID: String, name: String, settings: AgentSettings, by userID: String) throws -> Agent {
        try createAgent(projectID: projectID, name: name, settings: settings, by: userID, now: Date())
    }

    public func updateAgent(id: String, settings: AgentSettings, by userID: String) throws -> Agent {
        try updateAgent(id: id, settings: settings, by: userID, now: Date())
    }

    public func agents(projectID: String) throws -> [Agent] {
        try agents(projectID: projectID, updatedSince: nil)
    }

    public func skills(projectID: String) throws -> [Skill] {
        try skills(projectID: projectID, updatedSince: nil)
    }

    public func createProject(name: String, owner: String, teamID: String? = nil) throws -> Project {
        try createProject(name: name, owner: owner, teamID: teamID, allowNetwork: false)
    }

    public func createSkill(projectID: String, name: String, content: SkillContent, author: String) throws -> (Skill, SkillVersion) {
        try createSkill(projectID: projectID, name: name, content: content, author: author, now: Date())
    }

    public func addSkillVersion(skillID: String, content: SkillContent, author: String) throws -> (version: SkillVersion, created: Bool) {
        try addSkillVersion(skillID: skillID, content: content, author: author, now: Date())
    }

    public func workerDisconnected(id: String) throws {
        try workerDisconnected(id: id, at: Date())
    }
}
