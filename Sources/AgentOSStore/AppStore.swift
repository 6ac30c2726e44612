import AgentOSWire
import Foundation

/// The server's database: named reads and writes that keep its invariants, with two engines,
/// ``SQLiteStore`` (embedded, the default) and `PostgresStore` (module `AgentOSPostgres`,
/// which several servers can share).
///
/// The contract is synchronous: the server calls it only on threads that may block (the API
/// handlers' executor, the bus thread, the ZAP handler's), never on Swift's cooperative pool or
/// an event loop. SQLite answers on the calling thread; PostgreSQL runs the call on its own
/// executor and the caller waits for it. Writes are transactions: each method commits all of
/// what it does or none of it. Unique values already taken raise ``StoreError/conflict(_:)``.
public protocol AppStore: Sendable {

    // MARK: Accounts
    /// Whether any account exists (false only on first start).
    func hasUsers() throws -> Bool
    /// Creates an account; `conflict` when the email is taken.
    @discardableResult
    func createUser(_ user: User) throws -> User
    /// First start, in one transaction: the admin, the `default` project they own, and the
    /// cloud-worker token. Nothing is written unless all of it is.
    func createFirstStart(admin: User, workerToken: WorkerToken) throws
    /// The account with this id.
    func user(id: String) throws -> User?
    /// The account with this email, ignoring case.
    func user(email: String) throws -> User?
    /// Stores a worker token record (the secret itself is never stored).
    @discardableResult
    func createWorkerToken(_ token: WorkerToken) throws -> WorkerToken
    /// The live (unrevoked) worker token with this hash.
    func liveWorkerToken(hash: String) throws -> WorkerToken?

    // MARK: Audit
    /// Appends to the audit log.
    func audit(_ entry: AuditEntry) throws
    /// Audit entries, newest first, older than `beforeSeq`, optionally of one action (or a
    /// prefix such as `auth.`).
    func auditEntries(action: String?, beforeSeq: Int64?, limit: Int) throws -> [AuditEntry]

    // MARK: Auth
    /// Starts a login session with its first refresh token (stored hashed).
    func createSession(_ session: AuthSession, refreshTokenHash: String) throws
    /// The session with this id.
    func session(id: String) throws -> AuthSession?
    /// Exchanges a refresh token for a new one in the same session, in one transaction.
    /// A token presented twice revokes its session: the thief and the owner both lose it.
    func rotateRefreshToken(hash: String, newHash: String, now: Date) throws -> RefreshOutcome
    /// Revokes a session (logout); false when it was already over.
    @discardableResult
    func revokeSession(id: String, reason: String, now: Date) throws -> Bool
    /// Stores a new personal access token record.
    @discardableResult
    func createPersonalToken(_ token: PersonalToken) throws -> PersonalToken
    /// The personal token with this secret hash, if live; records its use at most once a
    /// minute, so a busy program's requests stay reads and never queue for the write lock.
    func usePersonalToken(hash: String, now: Date) throws -> PersonalToken?
    /// The personal token with this id.
    func personalToken(id: String) throws -> PersonalToken?
    /// A user's personal tokens, newest first, revoked ones included.
    func personalTokens(userID: String) throws -> [PersonalToken]
    /// Revokes a personal token; false when it was already revoked.
    @discardableResult
    func revokePersonalToken(id: String, now: Date) throws -> Bool
    /// Every worker token, newest first.
    func workerTokens() throws -> [WorkerToken]
    /// The worker token with this id.
    func workerToken(id: String) throws -> WorkerToken?
    /// Revokes a worker token; false when it was already revoked.
    @discardableResult
    func revokeWorkerToken(id: String, now: Date) throws -> Bool

    // MARK: BusKeys
    /// The live credential whose bus key is `curveKey` (Z85): an unrevoked worker token, or
    /// an unrevoked, unexpired personal access token of a user who is not disabled.
    func busPeer(curveKey: String, now: Date) throws -> BusPeer?
    /// Gives the worker token with this hash its bus key, if it has none (a token made before
    /// the bus had CURVE, whose secret the server still has in its data directory).
    func setWorkerTokenCurveKey(hash: String, curveKey: String) throws

    // MARK: Chat
    /// Stores a new chat session.
    @discardableResult
    func createChatSession(_ session: ChatSession) throws -> ChatSession
    /// The chat session with this id.
    func chatSession(id: String) throws -> ChatSession?
    /// A project's sessions, most recently active first; keyset-paged by `(updated_at, id)`.
    func chatSessions(projectID: String, limit: Int) throws -> [ChatSession]
    /// Appends a message, numbering it after the session's last one, in one transaction.
    func appendMessage(sessionID: String, role: MessageRole, content: String, jobID: String?, by userID: String, now: Date) throws -> ChatMessage
    /// Messages of a session in order, those after `afterSeq`, at most `limit`.
    func messages(sessionID: String, afterSeq: Int, limit: Int) throws -> [ChatMessage]

    // MARK: Dispatch
    /// Records the results of one bus loop iteration, its new workers and its assignments, all in one
    /// transaction (group commit): either all of it is durable or none of it is.
    ///
    /// A result counts only if its job still runs that attempt on that worker; an assignment
    /// only if its job is still queued. Neither reads more than the columns it needs.
    /// `connected` are workers welcomed since the last batch, recorded as online.
    func commitBusBatch(
        results: [(outcome: JobOutcome, workerID: String)], assignments: [Assignment], connected: [WorkerRecord], lease: JobLease?,
        at now: Date
    ) throws -> BusBatchCommit
    /// Every queued job as the dispatcher places it: the placement columns only, oldest first.
    func queuedJobSummaries() throws -> [QueuedJob]

    // MARK: Files
    /// Stores file metadata (the blob is already on disk).
    @discardableResult
    func createFile(_ file: StoredFile) throws -> StoredFile
    /// The file with this id.
    func file(id: String) throws -> StoredFile?
    /// A project's files, newest first, at most `limit`, those older than `before` (a cursor).
    func files(projectID: String, limit: Int, before: (Date, String)?) throws -> [StoredFile]
    /// Deletes a file's metadata. Returns its hash when no file refers to those bytes any
    /// more, so the caller removes the blob.
    func deleteFile(id: String) throws -> (file: StoredFile, orphanedBlob: String?)?
    /// Whether any file refers to these bytes (checked before a blob is removed).
    func blobInUse(_ sha256: String) throws -> Bool
    /// The files a job was given.
    func jobFiles(jobID: String) throws -> [JobFile]

    // MARK: Jobs
    /// Persists a new queued job. With an idempotency key already used by the same user in
    /// the same project, returns that earlier job instead and `created == false`.
    /// `files` are recorded with the job in the same transaction.
    func submit(_ job: Job, files: [JobFile]) throws -> (job: Job, created: Bool)
    /// Persists several submits in one transaction (group commit), each as `submit` would:
    /// one that fails (a constraint, a duplicate) is rolled back alone, to its savepoint, and
    /// reported in its place, while the others commit. Suspends rather than blocking a thread.
    func submitAll(_ batch: [(job: Job, files: [JobFile])]) async throws -> [Result<(job: Job, created: Bool), any Error>]
    /// The job `userID` submitted to `projectID` with this idempotency key, if any.
    func job(projectID: String, submittedBy userID: String, idempotencyKey key: String) throws -> Job?
    /// Stores a run record (a job a desktop ran locally, `origin` `local`). Idempotent by the
    /// desktop's id within the project: a second post returns the stored record.
    func recordRun(_ job: Job) throws -> (job: Job, created: Bool)
    /// The job with this id.
    func job(id: String) throws -> Job?
    /// Jobs marked running, optionally only those on one worker.
    func runningJobs(workerID: String?) throws -> [Job]
    /// Puts a running job whose worker handed it back unrun into the queue again. The
    /// hand-back does not count against `max_attempts`.
    func release(jobID: String, attempt: Int, workerID: String, at now: Date) throws -> Job?
    /// A running job's worker died or vanished: back to the queue while attempts remain,
    /// else failed with `worker_lost`. Nil when the job is not running that attempt, or, with
    /// `serverID`, not held by that server (its worker moved on, and another server adopted it).
    func loseJob(jobID: String, attempt: Int, heldBy serverID: String?, at now: Date) throws -> Job?
    /// Ends a run whose worker never reported within the time limit and its grace period:
    /// `timed_out`. Nil when that attempt is no longer running (or, with `serverID`, no longer
    /// held by that server).
    func expire(jobID: String, attempt: Int, heldBy serverID: String?, at now: Date) throws -> Job?
    /// Cancels a queued or running job, returning it as it was just before and as it is now;
    /// nil when it has already ended.
    func cancel(jobID: String, at now: Date) throws -> (before: Job, after: Job)?
    /// A page of a project's jobs, newest first, after the job with id `after` (a keyset
    /// cursor compared on the stored values, so no precision is lost in between).
    func jobs(projectID: String, status: JobStatus?, origin: String?, skill: String?, sessionID: String?, after: String?, limit: Int) throws -> [Job]
    /// Fails jobs waiting in the queue since before `cutoff` with `no_eligible_worker`.
    func failUnclaimed(queuedBefore cutoff: Date, at now: Date) throws -> [Job]

    // MARK: ModelConfig
    /// Stores a new provider; `conflict` when the project already has one of that name.
    @discardableResult
    func createProvider(_ provider: Provider) throws -> Provider
    /// Saves changes to a provider.
    func updateProvider(_ provider: Provider) throws
    /// A project's providers, by name.
    func providers(projectID: String) throws -> [Provider]
    /// The project's provider with this name.
    func provider(projectID: String, name: String) throws -> Provider?
    /// Creates an agent at version 1, with its first history entry.
    func createAgent(projectID: String, name: String, settings: AgentSettings, by userID: String, now: Date) throws -> Agent
    /// Replaces an agent's settings as a new version; the old ones stay in its history.
    /// Unchanged settings make no new version.
    func updateAgent(id: String, settings: AgentSettings, by userID: String, now: Date) throws -> Agent
    /// A project's agents, by name.
    /// The project's agents by name; with `updatedSince`, only those changed at or after then.
    func agents(projectID: String, updatedSince: Date?) throws -> [Agent]
    /// The project's agent with this name.
    func agent(projectID: String, name: String) throws -> Agent?
    /// An agent's history, newest first.
    func agentVersions(agentID: String) throws -> [AgentVersion]

    // MARK: Projects
    /// Creates a project and makes `owner` its owner, in one transaction.
    @discardableResult
    func createProject(name: String, owner: String, teamID: String?, allowNetwork: Bool) throws -> Project
    /// Sets whether the project's jobs may have the network; the project as it is now.
    func setProjectNetwork(id: String, allowed: Bool) throws -> Project?
    /// The project with this id or, failing that, this name.
    func project(idOrName: String) throws -> Project?
    /// The project with this id.
    func project(id: String) throws -> Project?
    /// Every project (nil) or those `userID` has a role in, by name.
    func projects(visibleTo userID: String?) throws -> [Project]
    /// Sets a user's role in a project, adding them if needed. A project keeps at least one
    /// owner among its members (`conflict`).
    func setMember(projectID: String, userID: String, role: ProjectRole) throws
    /// Removes a member; false when they were not one. A project keeps at least one owner.
    @discardableResult
    func removeMember(projectID: String, userID: String) throws -> Bool
    /// A user's effective role in a project: their membership, or owner when they own the
    /// project's team, whichever is higher; nil when neither.
    func role(of userID: String, in projectID: String) throws -> ProjectRole?
    /// A project's members with their accounts, by email.
    func members(projectID: String) throws -> [(User, ProjectRole)]
    /// Deletes a project and everything in it. Returns the blob hashes no file refers to
    /// any more, for the caller to remove from disk, and the ids of the jobs that were queued,
    /// for the dispatcher to forget.
    func deleteProject(id: String) throws -> (orphanedBlobs: [String], queuedJobs: [String])

    // MARK: Skills
    /// Creates a skill with `content` as version 1; `conflict` when the name is taken.
    func createSkill(projectID: String, name: String, content: SkillContent, author: String, now: Date) throws -> (Skill, SkillVersion)
    /// Adds a version to a skill. Content identical to an existing version returns that
    /// version and `created == false`; versions are never changed.
    func addSkillVersion(skillID: String, content: SkillContent, author: String, now: Date) throws -> (version: SkillVersion, created: Bool)
    /// A project's skills, by name.
    /// The project's skills by name; with `updatedSince`, only those changed (made, or given
    /// a version) at or after that time.
    func skills(projectID: String, updatedSince: Date?) throws -> [Skill]
    /// The project's skill with this name.
    func skill(projectID: String, name: String) throws -> Skill?
    /// A skill's versions, newest first.
    func skillVersions(skillID: String) throws -> [SkillVersion]
    /// One version of a skill.
    func skillVersion(skillID: String, version: Int) throws -> SkillVersion?

    // MARK: Teams
    /// Creates a team owned by `owner`.
    @discardableResult
    func createTeam(name: String, owner: String) throws -> Team
    /// The team with this id or, failing that, this name.
    func team(idOrName: String) throws -> Team?
    /// Every team, or only those `userID` belongs to.
    func teams(memberID userID: String?) throws -> [Team]
    /// A user's role in a team, or nil.
    func teamRole(of userID: String, in teamID: String) throws -> TeamRole?
    /// A team's members with their accounts.
    func teamMembers(teamID: String) throws -> [(User, TeamRole)]
    /// Adds or changes a team member. A team keeps at least one owner (`conflict`).
    func setTeamMember(teamID: String, userID: String, role: TeamRole) throws
    /// Removes a team member; false when they were not one. A team keeps at least one owner.
    @discardableResult
    func removeTeamMember(teamID: String, userID: String) throws -> Bool

    // MARK: Users
    /// Every account, by email.
    func users() throws -> [User]
    /// Applies `change` to a user and saves it. The last enabled admin cannot be demoted or
    /// disabled (`conflict`): someone must be able to administer the system.
    func updateUser(id: String, _ change: (inout User) -> Void) throws -> (before: User, after: User)

    // MARK: Workers
    /// Records a worker's hello (inserting or refreshing its row) as online.
    func workerConnected(_ record: WorkerRecord) throws
    /// The worker with this id, connected or not.
    func worker(id: String) throws -> WorkerRecord?
    /// Marks a worker offline.
    func workerDisconnected(id: String, at now: Date) throws
    /// Marks every worker offline (on start, nothing is connected yet); returns how many the
    /// previous run had left online.
    @discardableResult
    func markAllWorkersOffline() throws -> Int

    // MARK: Servers and leases

    /// Records `server` as live now, and renews until `lease.seconds` from now the leases of
    /// `holding`, the jobs it runs, if it still holds them (jobs it lost track of expire and are
    /// reaped). PostgreSQL times leases by its own clock, so servers' clocks need not agree.
    func heartbeat(server: ServerRecord, lease: JobLease, holding: [String], at now: Date) throws

    /// The servers that sent a heartbeat within the last `seconds`, oldest first.
    func servers(heardWithin seconds: Double, at now: Date) throws -> [ServerRecord]

    /// Running jobs whose lease ran out (their server died or lost the database): back to the
    /// queue while attempts remain, else failed `worker_lost`, as `loseJob` does.
    func reapExpiredLeases(at now: Date) throws -> [Job]

    /// Makes a running job that a worker brought with it (from another server, or this one's
    /// earlier run) held by `lease.serverID`, if it is still that attempt on that worker.
    func adopt(jobID: String, attempt: Int, workerID: String, lease: JobLease, at now: Date) throws -> Bool
}
