import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation
import Logging

/// A message for one worker connection.
public struct Outbound: Sendable {
    /// The worker's ROUTER identity.
    public let identity: [UInt8]
    /// What to send.
    public let message: BusMessage
}

/// The credential a worker connection authenticated with; revoking it disconnects the worker.
public enum WorkerCredentialRef: Sendable, Equatable {
    /// A login session (a desktop's access token).
    case session(String)
    /// A personal access token.
    case personalToken(String)
    /// A cloud worker token.
    case workerToken(String)
}

/// What stops working: connected workers that depend on it are disconnected at once.
public enum Revocation: Sendable, Equatable {
    /// A user was disabled: all their private workers.
    case user(String)
    /// A credential was revoked.
    case credential(WorkerCredentialRef)
}

/// Who a worker connection authenticated as.
public struct WorkerPrincipal: Sendable, Equatable {
    /// Cloud (worker token) or private (a user).
    public let kind: WorkerKind
    /// For a private worker, the user it serves.
    public let ownerID: String?
    /// The credential used, when known.
    public let credential: WorkerCredentialRef?

    /// A principal.
    public init(kind: WorkerKind, ownerID: String?, credential: WorkerCredentialRef? = nil) {
        self.kind = kind
        self.ownerID = ownerID
        self.credential = credential
    }

    /// Same kind of worker for the same account (whatever the credential).
    func sameAccount(as other: WorkerPrincipal) -> Bool { kind == other.kind && ownerID == other.ownerID }
}

/// A connected worker as the dispatcher sees it.
public struct ConnectedWorker: Sendable, Equatable {
    /// The ROUTER identity of its connection.
    public let identity: [UInt8]
    /// Its stable id.
    public let workerID: String
    /// Its name.
    public let name: String
    /// Cloud or private.
    public let kind: WorkerKind
    /// For a private worker, its user.
    public let ownerID: String?
    /// What it authenticated with.
    public var credential: WorkerCredentialRef? = nil
    /// Labels it carries.
    public let labels: Set<String>
    /// Jobs it runs at once.
    public let slots: Int
    /// Its software version.
    public let version: String
    /// When it said hello.
    public let connectedAt: Date
    /// Jobs it runs now: job id → attempt.
    public var running: [String: Int]
    /// When it was last heard from.
    public var lastHeard: Date
    /// It asked for no more jobs.
    public var draining: Bool

    /// Slots it can take a job into now: its credit.
    public var freeSlots: Int { draining ? 0 : max(0, slots - running.count) }

    /// Whether `job` may run here: the right kind and owner, the named worker if any, every label.
    public func canRun(_ job: Job) -> Bool {
        switch job.target {
        case .cloud:
            guard kind == .cloud else { return false }
        case .private:
            guard kind == .private, ownerID == job.submittedBy else { return false }
        }
        if let requested = job.requestedWorker, requested != name, requested != workerID { return false }
        return labels.isSuperset(of: job.labels)
    }
}

/// Matches queued jobs to workers' free slots and keeps job state true when workers
/// report, go quiet or vanish. Single-threaded: only the bus thread calls it; it returns
/// the messages to send instead of touching the socket.
public final class Dispatcher {
    /// Timing and limits.
    public struct Settings: Sendable {
        /// Heartbeat interval both ways.
        public var heartbeatInterval: TimeInterval = 1
        /// A peer silent for this many intervals is dead.
        public var deadAfterIntervals = 5
        /// A queued job no eligible worker picked up within this fails `no_eligible_worker`.
        public var queueTimeout: TimeInterval = 3600
        /// Server software version sent in `WELCOME`.
        public var serverVersion = AgentOSVersion.current

        /// Defaults: 1 s heartbeats, dead after 5, one hour in the queue.
        public init() {}

        /// How long a peer may be silent.
        public var deadPeerTimeout: TimeInterval { heartbeatInterval * Double(deadAfterIntervals) }
    }

    private let store: AppStore
    private let settings: Settings
    private let logger: Logger
    private let jobFinished: @Sendable (Job) -> Void
    private let fileTokens: JobFileTokens?
    private var workers: [String: ConnectedWorker] = [:]
    private var workerIDByIdentity: [[UInt8]: String] = [:]
    /// Until then, jobs the database calls running may still be claimed by reconnecting workers.
    private var recoveryDeadline: Date?
    /// When each dispatched run must have reported by: its time limit plus a grace period.
    /// A worker that is alive but never reports must not hold a job forever.
    private var deadlines: [String: (attempt: Int, at: Date)] = [:]
    private var lastHeartbeat = Date.distantPast
    private var lastQueueSweep = Date.distantPast

    /// A dispatcher over `store`; `jobFinished` hears of every job that reaches a final state.
    /// `fileTokens` signs the tokens jobs with files fetch them with.
    public init(
        store: AppStore, settings: Settings, logger: Logger, fileTokens: JobFileTokens? = nil, now: Date = Date(),
        jobFinished: @escaping @Sendable (Job) -> Void
    ) {
        self.store = store
        self.fileTokens = fileTokens
        self.settings = settings
        self.logger = logger
        self.jobFinished = jobFinished
        self.recoveryDeadline = now.addingTimeInterval(settings.deadPeerTimeout)
    }

    /// The workers connected now.
    public var connectedWorkers: [ConnectedWorker] { Array(workers.values) }

    // MARK: Registration

    /// Registers an authenticated `HELLO`: welcomes the worker, reconciles the jobs it says it
    /// still runs with the database, and hands it work.
    public func accept(identity: [UInt8], hello: Hello, principal: WorkerPrincipal, now: Date = Date()) throws -> [Outbound] {
        // A worker id belongs to whoever first used it: nobody else may take over its jobs.
        let owner = try workers[hello.workerID].map { WorkerPrincipal(kind: $0.kind, ownerID: $0.ownerID) }
            ?? store.worker(id: hello.workerID).map { WorkerPrincipal(kind: $0.kind, ownerID: $0.ownerID) }
        if let owner, !owner.sameAccount(as: principal) {
            logger.warning("hello with another principal's worker id", metadata: ["id": "\(hello.workerID)"])
            return [Outbound(identity: identity, message: BusMessage(.reject, Reject(
                code: Reject.workerIDTaken, message: "worker id \(hello.workerID) belongs to another account or kind of worker")))]
        }
        // Checked again here, on the bus thread: a revocation written while the hello's
        // credential was being checked must not let the worker in after all.
        guard try stillLive(principal, now: now) else {
            return [Outbound(identity: identity, message: BusMessage(.reject, Reject(
                code: Reject.unauthorized, message: "the worker's credential was revoked or its user disabled")))]
        }
        if let previous = workerIDByIdentity[identity], previous != hello.workerID {
            // The same connection now speaks for another worker: forget the old one entirely.
            try dropWorker(previous, now: now, reason: "connection reused")
        }
        if let old = workers[hello.workerID] {
            workerIDByIdentity[old.identity] = nil
        }
        var worker = ConnectedWorker(
            identity: identity, workerID: hello.workerID, name: hello.name, kind: principal.kind,
            ownerID: principal.ownerID, labels: Set(hello.labels), slots: max(0, hello.slots), version: hello.version,
            connectedAt: now, running: [:], lastHeard: now, draining: false)
        worker.credential = principal.credential

        // Cancels go before the welcome so the worker drops those runs before it resends results.
        var out: [Outbound] = []

        let reported = Dictionary(hello.running.map { ($0.jobID, $0.attempt) }, uniquingKeysWith: { first, _ in first })
        for (jobID, attempt) in reported {
            if let job = try store.job(id: jobID), job.status == .running, job.attempts == attempt,
                job.workerID == hello.workerID
            {
                worker.running[jobID] = attempt
                deadlines[jobID] = (attempt, deadline(for: job, from: job.startedAt ?? now))
            } else {
                // Requeued or finished meanwhile: that run's result would be ignored, so stop it.
                out.append(Outbound(identity: identity, message: BusMessage(.cancel, RunningJob(jobID: jobID, attempt: attempt))))
            }
        }
        for job in try store.runningJobs(workerID: hello.workerID) where worker.running[job.id] == nil {
            try lose(job, reason: "not reported by \(hello.name) after reconnecting", now: now)
        }

        out.append(Outbound(identity: identity, message: BusMessage(.welcome, Welcome(
            workerID: hello.workerID, heartbeatMS: Int(settings.heartbeatInterval * 1000),
            deadAfterIntervals: settings.deadAfterIntervals, serverVersion: settings.serverVersion))))
        workers[hello.workerID] = worker
        workerIDByIdentity[identity] = hello.workerID
        try store.workerConnected(WorkerRecord(
            id: worker.workerID, name: worker.name, kind: worker.kind, ownerID: worker.ownerID,
            labels: hello.labels, slots: worker.slots, version: worker.version, online: true,
            connectedAt: now, lastSeenAt: now))
        logger.info("worker connected", metadata: [
            "worker": "\(worker.name)", "id": "\(worker.workerID)", "kind": "\(worker.kind.rawValue)",
            "slots": "\(worker.slots)", "resumed": "\(worker.running.count)",
        ])
        return out + dispatch(now: now)
    }

    // MARK: Worker messages

    /// Handles a message other than `HELLO` from a connection.
    public func receive(identity: [UInt8], message: BusMessage, now: Date = Date()) throws -> [Outbound] {
        guard let workerID = workerIDByIdentity[identity], var worker = workers[workerID] else {
            if message.command == .bye { return [] }
            return [Outbound(identity: identity, message: BusMessage(.reject, Reject(
                code: Reject.notRegistered, message: "send HELLO first")))]
        }
        worker.lastHeard = now
        workers[workerID] = worker

        switch message.command {
        case .heartbeat, .started:
            return []
        case .result:
            let outcome = try message.decode(JobOutcome.self)
            // Stored first: if that fails the run stays held (and under its deadline), not lost.
            let finished = try store.finish(outcome, workerID: workerID, at: now)
            if worker.running[outcome.jobID] == outcome.attempt {
                workers[workerID]?.running[outcome.jobID] = nil
                deadlines[outcome.jobID] = nil
            }
            if let job = finished {
                logger.debug("job finished", metadata: ["job": "\(job.id)", "status": "\(job.status.rawValue)"])
                jobFinished(job)
            } else {
                logger.info("ignored a result for an attempt that no longer counts", metadata: [
                    "job": "\(outcome.jobID)", "attempt": "\(outcome.attempt)", "worker": "\(worker.name)",
                ])
            }
            return dispatch(now: now)
        case .release:
            let handedBack = try message.decode(RunningJob.self)
            if worker.running[handedBack.jobID] == handedBack.attempt {
                workers[workerID]?.running[handedBack.jobID] = nil
                deadlines[handedBack.jobID] = nil
                _ = try store.release(jobID: handedBack.jobID, attempt: handedBack.attempt, workerID: workerID, at: now)
                logger.info("job handed back", metadata: ["job": "\(handedBack.jobID)", "worker": "\(worker.name)"])
            } else {
                logger.info("ignored hand-back of a job the worker does not hold", metadata: [
                    "job": "\(handedBack.jobID)", "attempt": "\(handedBack.attempt)", "worker": "\(worker.name)",
                ])
            }
            return dispatch(now: now)
        case .drain:
            workers[workerID]?.draining = true
            logger.info("worker draining", metadata: ["worker": "\(worker.name)"])
            return []
        case .bye:
            try dropWorker(workerID, now: now, reason: "said goodbye")
            return dispatch(now: now)
        case .hello, .welcome, .reject, .job, .cancel:
            throw BusDecodingError(description: "\(message.command.rawValue) is not a worker command here")
        }
    }

    /// Jobs could not be delivered: put them straight back in the queue, their attempts
    /// uncounted, and forget the worker when its connection is gone.
    public func undeliverable(_ jobs: [JobAssignment], to identity: [UInt8], connectionGone: Bool = true, now: Date = Date()) throws -> [Outbound] {
        guard let workerID = workerIDByIdentity[identity] else { return [] }
        for job in jobs where workers[workerID]?.running[job.jobID] == job.attempt {
            workers[workerID]?.running[job.jobID] = nil
            deadlines[job.jobID] = nil
            _ = try store.release(jobID: job.jobID, attempt: job.attempt, workerID: workerID, at: now)
        }
        if connectionGone {
            try dropWorker(workerID, now: now, reason: "unreachable")
        } else {
            // Alive but not reading (its queue is full): no more jobs until it catches up.
            workers[workerID]?.draining = true
            logger.warning("worker not keeping up; it gets no more jobs", metadata: ["worker": "\(workerID)"])
        }
        return dispatch(now: now)
    }

    /// A job was cancelled while running: ask its worker to stop it. The slot stays taken
    /// until the worker reports the run ended.
    public func cancel(jobID: String, attempt: Int, on workerID: String) -> [Outbound] {
        guard let worker = workers[workerID], worker.running[jobID] == attempt else { return [] }
        return [Outbound(identity: worker.identity, message: BusMessage(.cancel, RunningJob(jobID: jobID, attempt: attempt)))]
    }

    // MARK: Time

    /// Periodic work: heartbeats out, dead peers, the restart grace period, queue timeouts.
    public func tick(now: Date = Date()) throws -> [Outbound] {
        var out: [Outbound] = []
        var changed = false
        for worker in workers.values where now.timeIntervalSince(worker.lastHeard) > settings.deadPeerTimeout {
            try dropWorker(worker.workerID, now: now, reason: "silent for \(settings.deadAfterIntervals) heartbeats")
            changed = true
        }
        if let deadline = recoveryDeadline, now >= deadline {
            for job in try store.runningJobs() where job.workerID.flatMap({ workers[$0]?.running[job.id] }) != job.attempts {
                try lose(job, reason: "its worker did not return after the server restarted", now: now)
                changed = true
            }
            // Only once all of them are settled: a failure above retries on the next tick.
            recoveryDeadline = nil
        }
        for (jobID, deadline) in deadlines where now >= deadline.at {
            deadlines[jobID] = nil
            guard let expired = try store.expire(jobID: jobID, attempt: deadline.attempt, at: now) else { continue }
            logger.warning("job overran its time limit without a result", metadata: ["job": "\(jobID)", "worker": "\(expired.workerName ?? "")"])
            jobFinished(expired)
            if let workerID = expired.workerID { out += cancel(jobID: jobID, attempt: deadline.attempt, on: workerID) }
        }
        if now.timeIntervalSince(lastQueueSweep) >= settings.heartbeatInterval {
            lastQueueSweep = now
            for job in try store.failUnclaimed(queuedBefore: now.addingTimeInterval(-settings.queueTimeout), at: now) {
                logger.info("job expired in queue", metadata: ["job": "\(job.id)"])
                jobFinished(job)
            }
        }
        if now.timeIntervalSince(lastHeartbeat) >= settings.heartbeatInterval {
            lastHeartbeat = now
            let beat = BusMessage(.heartbeat, EmptyBody())
            out += workers.values.map { Outbound(identity: $0.identity, message: beat) }
        }
        if changed { out += dispatch(now: now) }
        return out
    }

    // MARK: Dispatch

    /// Most queued jobs read per page, and the most pages one dispatch round reads.
    static let pageSize = 256
    static let maxPages = 64

    /// Assigns queued jobs to eligible workers with free slots, most free slots first.
    /// A database failure ends the round, but what was assigned so far is still returned,
    /// to be sent.
    public func dispatch(now: Date = Date()) -> [Outbound] {
        var out: [Outbound] = []
        do {
            try fillFreeSlots(into: &out, now: now)
        } catch {
            logger.error("dispatch stopped early", metadata: ["error": "\(error)"])
        }
        return out
    }

    private func fillFreeSlots(into out: inout [Outbound], now: Date) throws {
        let available = workers.values.filter { $0.freeSlots > 0 }
        guard !available.isEmpty else { return }
        let includeCloud = available.contains { $0.kind == .cloud }
        let privateOwners = Set(available.compactMap { $0.kind == .private ? $0.ownerID : nil })
        // Page through the queue until the free slots are filled or the queue ends, so jobs
        // no connected worker can take (labels, a named worker) do not starve those behind.
        // Pages sized to the free slots: a result that frees one slot reads a few rows, not hundreds.
        let pageSize = min(Self.pageSize, max(16, 4 * available.reduce(0) { $0 + $1.freeSlots }))
        var skipped = 0
        for _ in 0..<Self.maxPages {
            let page = try store.queuedJobs(
                limit: pageSize, offset: skipped, includeCloud: includeCloud, privateOwners: privateOwners)
            for job in page {
                guard let worker = workers.values.filter({ $0.freeSlots > 0 && $0.canRun(job) })
                    .max(by: { ($0.freeSlots, $1.workerID) < ($1.freeSlots, $0.workerID) })
                else {
                    skipped += 1
                    continue
                }
                // Nil when the job left the queue meanwhile (cancelled): it no longer takes a place.
                guard let assigned = try store.assign(jobID: job.id, workerID: worker.workerID, workerName: worker.name, at: now)
                else { continue }
                workers[worker.workerID]?.running[assigned.id] = assigned.attempts
                deadlines[assigned.id] = (assigned.attempts, deadline(for: assigned, from: now))
                out.append(Outbound(identity: worker.identity, message: BusMessage(.job, try assignment(for: assigned, now: now))))
                if !workers.values.contains(where: { $0.freeSlots > 0 }) { return }
            }
            if page.count < pageSize { return }
        }
    }

    private func assignment(for job: Job, now: Date) throws -> JobAssignment {
        let files = try store.jobFiles(jobID: job.id).map { JobFileRef(id: $0.fileID, name: $0.name, sha256: $0.sha256, size: $0.size) }
        let token = files.isEmpty ? nil : fileTokens?.issue(jobID: job.id, attempt: job.attempts, expires: deadline(for: job, from: now))
        var limits = job.limits
        // Checked at submit; an admin may have turned the network off for the project since.
        if limits.network, try store.project(id: job.projectID)?.allowNetwork != true { limits.network = false }
        return JobAssignment(
            jobID: job.id, attempt: job.attempts, code: job.code, inputs: job.inputs, limits: limits,
            entrypoint: job.entrypoint, requirements: job.requirements, files: files, fileToken: token)
    }

    // MARK: Revocation

    private func stillLive(_ principal: WorkerPrincipal, now: Date) throws -> Bool {
        if let ownerID = principal.ownerID, try store.user(id: ownerID)?.disabled ?? true { return false }
        switch principal.credential {
        case .session(let id): return try store.session(id: id)?.isLive(at: now) ?? false
        case .personalToken(let id): return try store.personalToken(id: id)?.isLive(at: now) ?? false
        case .workerToken(let id): return try store.workerToken(id: id).map { $0.revokedAt == nil } ?? false
        case nil: return true
        }
    }

    /// Disconnects the workers that depend on what was revoked; their jobs go back to the queue.
    public func revoke(_ revocation: Revocation, now: Date = Date()) throws -> [Outbound] {
        let affected = workers.values.filter { worker in
            switch revocation {
            case .user(let userID): worker.kind == .private && worker.ownerID == userID
            case .credential(let credential): worker.credential == credential
            }
        }
        var out: [Outbound] = []
        for worker in affected {
            out.append(Outbound(identity: worker.identity, message: BusMessage(.reject, Reject(
                code: Reject.unauthorized, message: "the worker's credential was revoked or its user disabled"))))
            try dropWorker(worker.workerID, now: now, reason: "lost its credential")
        }
        return affected.isEmpty ? out : out + dispatch(now: now)
    }

    // MARK: Loss

    private func deadline(for job: Job, from start: Date) -> Date {
        start.addingTimeInterval(job.timeoutSeconds + max(30, settings.deadPeerTimeout * 2))
    }

    private func dropWorker(_ workerID: String, now: Date, reason: String) throws {
        guard let worker = workers.removeValue(forKey: workerID) else { return }
        workerIDByIdentity[worker.identity] = nil
        logger.warning("worker disconnected", metadata: ["worker": "\(worker.name)", "reason": "\(reason)"])
        for (jobID, attempt) in worker.running {
            if let job = try store.job(id: jobID), job.attempts == attempt {
                try lose(job, reason: "worker \(worker.name) \(reason)", now: now)
            }
        }
        try store.workerDisconnected(id: workerID, at: now)
    }

    private func lose(_ job: Job, reason: String, now: Date) throws {
        guard let updated = try store.loseJob(jobID: job.id, attempt: job.attempts, at: now) else { return }
        logger.warning("job lost its worker", metadata: [
            "job": "\(job.id)", "attempt": "\(job.attempts)", "reason": "\(reason)", "now": "\(updated.status.rawValue)",
        ])
        if updated.status.isFinal { jobFinished(updated) }
    }
}
