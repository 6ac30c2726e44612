import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation
import DequeModule
import HeapModule
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
    /// For a private worker, the names of the folders it shares, as its `HELLO` said.
    public var folders: Set<String> = []
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
    /// The heartbeat interval its `WELCOME`, or a later `HEARTBEAT`, gave it (longer than the
    /// server's own in a large fleet); it is dead after `deadAfterIntervals` of these in silence.
    public var heartbeatInterval: TimeInterval = 1
    /// When the server last sent it a heartbeat.
    public var lastBeatSent = Date.distantPast

    /// Slots it can take a job into now: its credit.
    public var freeSlots: Int { draining ? 0 : max(0, slots - running.count) }

    /// Whether `job` may run here: the right kind and owner, the named worker if any, every label.
    public func canRun(_ job: Job) -> Bool { canRun(QueuedJob(job).placement) }

    /// Whether jobs placed so may run here.
    public func canRun(_ placement: QueuedJob.Placement) -> Bool {
        switch placement.target {
        case .cloud:
            guard kind == .cloud else { return false }
        case .private:
            guard kind == .private, ownerID == placement.owner else { return false }
        }
        if let requested = placement.requestedWorker, requested != name, requested != workerID { return false }
        return labels.isSuperset(of: placement.labels)
    }

    /// Whether it shares every folder in `names` (a job's `dirs`); dispatch does not ask, a
    /// worker fails a job naming a folder it does not share, but a submit warns.
    public func shares(_ names: [String]) -> Bool { folders.isSuperset(of: names) }
}

/// A server sharing its store with other servers (PostgreSQL): who it is, where it listens,
/// and how long the leases on the jobs it runs last without renewal (ARCHITECTURE §5.1).
public struct ClusterMembership: Sendable {
    /// This server, as the `servers` table lists it.
    public let server: ServerRecord
    /// A lease's length; renewed every third of it.
    public let leaseSeconds: Double

    public init(server: ServerRecord, leaseSeconds: Double) {
        self.server = server
        self.leaseSeconds = leaseSeconds
    }

}

/// Matches queued jobs to workers' free slots and keeps job state true when workers
/// report, go quiet or vanish. Single-threaded: only the bus thread calls it; it returns
/// the messages to send instead of touching the socket.
///
/// The queue is held in memory (`ReadyIndex`), and writes are grouped: the results a loop
/// iteration receives are recorded, and the jobs it assigns marked running, by one
/// transaction in `commit(now:)`, which the bus calls once per iteration. Nothing waits on
/// that commit but the messages it produces: a `JOB` goes out only once its assignment is
/// durable, and a result is only taken as recorded once it is.
public final class Dispatcher {
    /// Timing and limits.
    public struct Settings: Sendable {
        /// Heartbeat interval both ways, in a fleet small enough for it.
        public var heartbeatInterval: TimeInterval = 1
        /// A peer silent for this many intervals is dead.
        public var deadAfterIntervals = 5
        /// The heartbeats a second the server aims to handle each way, at most: past
        /// `heartbeatInterval × maxHeartbeatsPerSecond` workers, the fleet's interval grows to a
        /// whole number of base intervals (in `WELCOME`, and in `HEARTBEAT` for workers already
        /// connected), as Nomad lengthens its clients' heartbeat TTL. 0 never lengthens it.
        public var maxHeartbeatsPerSecond: Double = 4000
        /// A queued job no eligible worker picked up within this fails `no_eligible_worker`.
        public var queueTimeout: TimeInterval = 3600
        /// Server software version sent in `WELCOME`.
        public var serverVersion = AgentOSVersion.current
        /// With a store shared by several servers: how long a running job stays this server's
        /// without a renewal (every third of it). A server that dies loses its jobs to the
        /// queue this long after its last renewal; a worker must reach another server sooner
        /// to keep them.
        public var leaseSeconds: Double = 15

        /// Defaults: 1 s heartbeats, dead after 5, at most 4,000 heartbeats a second, one
        /// hour in the queue.
        public init() {}

        /// How long a peer may be silent, in a small fleet.
        public var deadPeerTimeout: TimeInterval { heartbeatInterval * Double(deadAfterIntervals) }

        /// The heartbeat interval for a worker joining a fleet of `workers` (itself included):
        /// the base interval, or the whole number of base intervals that keeps the fleet's
        /// heartbeats within `maxHeartbeatsPerSecond`.
        public func heartbeatInterval(forFleetOf workers: Int) -> TimeInterval {
            guard maxHeartbeatsPerSecond > 0 else { return heartbeatInterval }
            let needed = Double(workers) / maxHeartbeatsPerSecond
            return heartbeatInterval * max(1, (needed / heartbeatInterval).rounded(.up))
        }
    }

    private let store: any AppStore
    private let settings: Settings
    private let logger: Logger
    private let jobFinished: @Sendable (FinishedJob) -> Void
    /// Told when a job's status or live output changes; holds the live output.
    private let watch: JobWatch
    /// Counts and times what the bus does, for `GET /metrics`.
    private let metrics: ServerMetrics?
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
    private var lastLivenessCheck = Date.distantPast
    /// Every queued job, in dispatch order per placement.
    private var ready: ReadyIndex
    /// Results received since the last commit, with what their worker held before.
    private var pendingResults: [PendingResult] = []
    /// Workers welcomed since the last commit, to record as online in it.
    private var pendingConnected: [String: WorkerRecord] = [:]
    /// Whether the next commit should look for assignments (jobs queued or slots freed).
    private var dispatchWanted = true
    /// Set when the store is shared with other servers: the jobs this server runs carry its
    /// lease, and every server reaps the jobs whose lease ran out.
    private var membership: ClusterMembership?
    private var lastLeaseRenewal = Date.distantPast
    private var lastReap = Date.distantPast
    /// Jobs some server took from the queue lately: an API enqueue of one that arrives after
    /// that news (the notifications raced it) is dropped rather than left in the index.
    private var recentlyDequeued: Set<String> = []
    private var recentlyDequeuedOrder: Deque<String> = []

    private struct PendingResult {
        let outcome: JobOutcome
        let workerID: String
        let workerName: String
        /// The run's deadline when the result freed the worker's slot, to restore if the commit fails.
        let freed: (attempt: Int, at: Date)?
    }

    /// Most assignments one commit makes; the rest follow in the next iteration, so timers
    /// and the socket stay served while a deep queue drains into many free slots.
    static let maxAssignmentsPerCommit = 4096

    /// A dispatcher over `store`, its queue read from it (and counted into `queueCounts`); `jobFinished` hears of every job
    /// that reaches a final state (its id and status). `fileTokens` signs the tokens jobs
    /// with files fetch them with. `workersOnlineBefore`, the workers the previous run left
    /// connected, sets the restart grace period: one dead-peer timeout of that fleet. `watch`
    /// keeps the running jobs' live output (`OUTPUT`) and hears of every other change.
    public init(
        store: any AppStore, settings: Settings, logger: Logger, fileTokens: JobFileTokens? = nil, queueCounts: QueueCounts = QueueCounts(),
        now: Date = Date(), workersOnlineBefore: Int = 0, watch: JobWatch = JobWatch(), metrics: ServerMetrics? = nil,
        jobFinished: @escaping @Sendable (FinishedJob) -> Void
    ) throws {
        ready = ReadyIndex(counts: queueCounts)
        self.store = store
        self.fileTokens = fileTokens
        self.settings = settings
        self.logger = logger
        self.jobFinished = jobFinished
        self.watch = watch
        self.metrics = metrics
        let grace = settings.heartbeatInterval(forFleetOf: workersOnlineBefore) * Double(settings.deadAfterIntervals)
        self.recoveryDeadline = now.addingTimeInterval(max(settings.deadPeerTimeout, grace))
        for job in try store.queuedJobSummaries() { ready.insert(job) }
    }

    /// The workers connected now.
    public var connectedWorkers: [ConnectedWorker] { Array(workers.values) }

    /// How many jobs wait in the queue.
    public var queuedCount: Int { ready.count }

    /// Whether the last commit left assignments to make (it stopped at its most, or a job it
    /// chose had left the queue): the bus should commit again without waiting.
    public private(set) var hasBacklog = false

    // MARK: Sharing the store

    /// Joins the servers sharing the store: from now on assignments carry this server's lease,
    /// which `tick` renews, and expired leases are reaped. Jobs the database calls running are
    /// no longer lost after a grace period: those of a server that died are reaped once their
    /// lease runs out, and a worker that moves here keeps its jobs (`accept` adopts them).
    public func join(_ membership: ClusterMembership, now: Date = Date()) throws {
        self.membership = membership
        recoveryDeadline = nil
        try store.heartbeat(server: membership.server, lease: lease!, holding: [], at: now)
        lastLeaseRenewal = now
    }

    /// The lease this server's jobs carry: the configured length, or longer when the fleet's
    /// heartbeat has grown so that a worker could not leave a silent server within half of it
    /// (it moves after `deadAfterIntervals` silent heartbeats; two seconds more to reconnect).
    private var lease: JobLease? {
        guard let membership else { return nil }
        let failover = settings.heartbeatInterval(forFleetOf: workers.count) * Double(settings.deadAfterIntervals) + 2
        return JobLease(serverID: membership.server.id, seconds: max(membership.leaseSeconds, 2 * failover))
    }

    /// Another server (or this one) queued a job, which had had `attempts` then: it joins the
    /// queue here too. A worker here running a later attempt makes the news stale (this server
    /// assigned it since), and it is ignored. One still running that attempt or an earlier one
    /// (its lease ran out while this server could not renew it) is stopped: the job runs where
    /// the queue sends it next.
    public func heardQueued(_ job: QueuedJob, attempts: Int) -> [Outbound] {
        // Every job submitted anywhere comes by here: the runs held here are looked up by their
        // deadline, and the workers searched only in the rare case that one of them runs it.
        if let held = deadlines[job.id], held.attempt > attempts { return [] }
        recentlyDequeued.remove(job.id)
        var out: [Outbound] = []
        if deadlines[job.id] != nil {
            for (id, worker) in workers {
                guard let attempt = worker.running[job.id] else { continue }
                workers[id]?.running[job.id] = nil
                deadlines[job.id] = nil
                watch.live.end(jobID: job.id, attempt: attempt)
                out.append(Outbound(identity: worker.identity, message: BusMessage(.cancel, RunningJob(jobID: job.id, attempt: attempt))))
            }
        }
        ready.insert(job)
        watch.changed(job.id)
        dispatchWanted = true
        return out
    }

    /// A queued job left the queue on some server (assigned, cancelled, timed out).
    public func heardDequeued(jobID: String) {
        ready.remove(jobID)
        watch.changed(jobID)
        if recentlyDequeued.insert(jobID).inserted {
            recentlyDequeuedOrder.append(jobID)
            if recentlyDequeuedOrder.count > 65_536, let oldest = recentlyDequeuedOrder.popFirst() { recentlyDequeued.remove(oldest) }
        }
    }

    /// Notifications may have been missed: the queue is read again (entries already gone from
    /// it are dropped when an assignment finds them taken).
    public func resync() throws {
        for job in try store.queuedJobSummaries() { ready.insert(job) }
        dispatchWanted = true
    }

    /// Renews the leases of the jobs this server's workers run every third of a lease, and
    /// reaps expired ones once per heartbeat interval. A server that could not renew for half a
    /// lease stops its workers' runs, as a worker that hears from no server does: another
    /// server will requeue them once the lease is over, and a job never runs twice at once.
    private func keepLeases(now: Date) -> [Outbound] {
        guard let membership, let lease else { return [] }
        var out: [Outbound] = []
        if now.timeIntervalSince(lastLeaseRenewal) >= lease.seconds / 3 {
            let held = workers.values.flatMap { worker in worker.running.filter { $0.value > 0 }.map(\.key) }
            do {
                try store.heartbeat(server: membership.server, lease: lease, holding: held, at: now)
                lastLeaseRenewal = now
            } catch {
                logger.error("could not renew this server's leases", metadata: ["error": "\(error)"])
                if now.timeIntervalSince(lastLeaseRenewal) > lease.seconds / 2 { out += abandonRuns() }
            }
        }
        guard now.timeIntervalSince(lastReap) >= settings.heartbeatInterval else { return out }
        lastReap = now
        // A database out of reach must not stop the rest of the tick (heartbeats to workers).
        let reaped: [Job]
        do {
            reaped = try store.reapExpiredLeases(at: now)
        } catch {
            logger.error("could not reap expired leases", metadata: ["error": "\(error)"])
            return out
        }
        for job in reaped {
            logger.warning("job's lease expired", metadata: [
                "job": "\(job.id)", "attempt": "\(job.attempts)", "now": "\(job.status.rawValue)",
            ])
            if job.status.isFinal { jobFinished(FinishedJob(id: job.id, status: job.status)) } else { requeued(job) }
        }
        return out
    }

    /// Stops every run of this server's workers (their leases can no longer be renewed).
    private func abandonRuns() -> [Outbound] {
        var out: [Outbound] = []
        for (id, worker) in workers where !worker.running.isEmpty {
            logger.warning("leases not renewed for half a lease; stopping the runs another server will requeue", metadata: [
                "worker": "\(worker.name)", "jobs": "\(worker.running.keys.sorted())",
            ])
            for (jobID, attempt) in worker.running where attempt > 0 {
                deadlines[jobID] = nil
                watch.live.end(jobID: jobID, attempt: attempt)
                out.append(Outbound(identity: worker.identity, message: BusMessage(.cancel, RunningJob(jobID: jobID, attempt: attempt))))
            }
            workers[id]?.running = [:]
        }
        return out
    }

    // MARK: The queue

    /// Jobs entered the queue (submitted through the API, which reserved their places in the
    /// quotas): they are dispatched by the next commit.
    public func enqueue(_ jobs: [QueuedJob]) {
        for job in jobs {
            // Already taken (by another server, or by this one from the notification that came
            // first): it does not enter the queue again.
            if recentlyDequeued.remove(job.id) != nil || deadlines[job.id] != nil {
                ready.dropReservation(of: job)
                continue
            }
            ready.insert(job, reserved: true)
        }
        dispatchWanted = true
    }

    /// A job left the queue without being dispatched (cancelled, or its project deleted): it
    /// no longer takes a place, even if its submit reaches the bus only after this.
    public func dequeue(jobID: String) {
        ready.remove(jobID, departing: true)
    }

    private func requeued(_ job: Job) {
        guard job.status == .queued else { return }
        recentlyDequeued.remove(job.id)
        watch.changed(job.id)
        ready.insert(QueuedJob(job), again: true)
        dispatchWanted = true
    }

    /// Notes that the worker on `identity` is alive (it sent part of a message).
    public func heard(from identity: [UInt8], now: Date = Date()) {
        if let workerID = workerIDByIdentity[identity] { workers[workerID]?.lastHeard = now }
    }

    /// Whether the connection `identity` belongs to a welcomed worker.
    public func isWelcomed(_ identity: [UInt8]) -> Bool {
        workerIDByIdentity[identity] != nil
    }

    // MARK: Registration

    /// Registers an authenticated `HELLO`: welcomes the worker, reconciles the jobs it says it
    /// still runs with the database, and hands it work.
    /// Its record and first jobs are written by the next commit, with whatever else this loop
    /// iteration brings: a burst of reconnecting workers costs a few transactions, not one each.
    public func accept(identity: [UInt8], hello: Hello, principal: WorkerPrincipal, now: Date = Date()) throws -> [Outbound] {
        // Results received before this hello are recorded first: the reconciliation below
        // must see the jobs as they left them.
        var out = pendingResults.isEmpty ? [] : commit(now: now)
        // A worker id belongs to whoever first used it: nobody else may take over its jobs.
        let owner = try workers[hello.workerID].map { WorkerPrincipal(kind: $0.kind, ownerID: $0.ownerID) }
            ?? store.worker(id: hello.workerID).map { WorkerPrincipal(kind: $0.kind, ownerID: $0.ownerID) }
        if let owner, !owner.sameAccount(as: principal) {
            logger.warning("hello with another principal's worker id", metadata: ["id": "\(hello.workerID)"])
            return out + [Outbound(identity: identity, message: BusMessage(.reject, Reject(
                code: Reject.workerIDTaken, message: "worker id \(hello.workerID) belongs to another account or kind of worker")))]
        }
        // Checked again here, on the bus thread: a revocation written while the hello's
        // credential was being checked must not let the worker in after all.
        guard try stillLive(principal, now: now) else {
            return out + [Outbound(identity: identity, message: BusMessage(.reject, Reject(
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
        if principal.kind == .private { worker.folders = Set(hello.folders ?? []) }
        worker.heartbeatInterval = settings.heartbeatInterval(forFleetOf: workers.count + (workers[hello.workerID] == nil ? 1 : 0))
        worker.lastBeatSent = now

        // Cancels go before the welcome so the worker drops those runs before it resends results.
        let reported = Dictionary(hello.running.map { ($0.jobID, $0.attempt) }, uniquingKeysWith: { first, _ in first })
        for (jobID, attempt) in reported {
            if let job = try store.job(id: jobID), job.status == .running, job.attempts == attempt,
                job.workerID == hello.workerID,
                try lease.map({ try store.adopt(jobID: jobID, attempt: attempt, workerID: hello.workerID, lease: $0, at: now) }) ?? true
            {
                worker.running[jobID] = attempt
                deadlines[jobID] = (attempt, deadline(timeoutSeconds: job.timeoutSeconds, from: job.startedAt ?? now))
                watch.live.begin(jobID: jobID, attempt: attempt, cap: job.maxOutputBytes)
            } else {
                // Requeued or finished meanwhile: that run's result would be ignored, so stop it.
                out.append(Outbound(identity: identity, message: BusMessage(.cancel, RunningJob(jobID: jobID, attempt: attempt))))
            }
        }
        for job in try store.runningJobs(workerID: hello.workerID) where worker.running[job.id] == nil {
            watch.live.end(jobID: job.id, attempt: job.attempts)
            try lose(job, reason: "not reported by \(hello.name) after reconnecting", now: now)
        }

        out.append(Outbound(identity: identity, message: BusMessage(.welcome, Welcome(
            workerID: hello.workerID, heartbeatMS: Int((worker.heartbeatInterval * 1000).rounded()),
            deadAfterIntervals: settings.deadAfterIntervals, serverVersion: settings.serverVersion,
            leaseMS: lease.map { Int(($0.seconds * 1000).rounded()) }))))
        workers[hello.workerID] = worker
        workerIDByIdentity[identity] = hello.workerID
        pendingConnected[worker.workerID] = WorkerRecord(
            id: worker.workerID, name: worker.name, kind: worker.kind, ownerID: worker.ownerID,
            labels: hello.labels, slots: worker.slots, version: worker.version, online: true,
            connectedAt: now, lastSeenAt: now)
        logger.info("worker connected", metadata: [
            "worker": "\(worker.name)", "id": "\(worker.workerID)", "kind": "\(worker.kind.rawValue)",
            "slots": "\(worker.slots)", "resumed": "\(worker.running.count)",
        ])
        dispatchWanted = true
        return out
    }

    // MARK: Worker messages

    /// Handles a message other than `HELLO` from a connection. A `RESULT` is recorded by the
    /// next `commit(now:)`, with whatever else this loop iteration brings; the other commands
    /// first commit what is pending, so they see the store as the messages before them left it.
    public func receive(identity: [UInt8], message: BusMessage, now: Date = Date()) throws -> [Outbound] {
        guard let workerID = workerIDByIdentity[identity], workers[workerID] != nil else {
            if message.command == .bye { return [] }
            return [Outbound(identity: identity, message: BusMessage(.reject, Reject(
                code: Reject.notRegistered, message: "send HELLO first")))]
        }
        // Any message is a sign of life.
        workers[workerID]?.lastHeard = now

        switch message.command {
        case .heartbeat, .started:
            return []
        case .output:
            receiveOutput(try message.decode(JobOutputChunk.self), from: workerID)
            return []
        case .result:
            var outcome = try message.decode(JobOutcome.self)
            guard let worker = workers[workerID] else { return [] }
            // Output is stored as text; a NUL would end it there.
            outcome.stdout = outcome.stdout.replacingNUL
            outcome.stderr = outcome.stderr.replacingNUL
            outcome.error = outcome.error?.replacingNUL
            var freed: (attempt: Int, at: Date)?
            if worker.running[outcome.jobID] == outcome.attempt {
                workers[workerID]?.running[outcome.jobID] = nil
                freed = deadlines.removeValue(forKey: outcome.jobID) ?? (outcome.attempt, now)
            }
            pendingResults.append(PendingResult(outcome: outcome, workerID: workerID, workerName: worker.name, freed: freed))
            metrics?.resultsWaiting(pendingResults.count)
            dispatchWanted = true
            return []
        case .release:
            let handedBack = try message.decode(RunningJob.self)
            var out = commit(now: now)
            guard let worker = workers[workerID] else { return out }
            if worker.running[handedBack.jobID] == handedBack.attempt {
                workers[workerID]?.running[handedBack.jobID] = nil
                deadlines[handedBack.jobID] = nil
                watch.live.end(jobID: handedBack.jobID, attempt: handedBack.attempt)
                if let job = try store.release(jobID: handedBack.jobID, attempt: handedBack.attempt, workerID: workerID, at: now) {
                    requeued(job)
                }
                logger.info("job handed back", metadata: ["job": "\(handedBack.jobID)", "worker": "\(worker.name)"])
            } else {
                logger.info("ignored hand-back of a job the worker does not hold", metadata: [
                    "job": "\(handedBack.jobID)", "attempt": "\(handedBack.attempt)", "worker": "\(worker.name)",
                ])
            }
            dispatchWanted = true
            out += commit(now: now)
            return out
        case .drain:
            workers[workerID]?.draining = true
            logger.info("worker draining", metadata: ["worker": "\(workers[workerID]?.name ?? workerID)"])
            return []
        case .bye:
            var out = commit(now: now)
            try dropWorker(workerID, now: now, reason: "said goodbye")
            out += commit(now: now)
            return out
        case .hello, .welcome, .reject, .job, .cancel, .part, .fetch, .file:
            // A PART is put together, and a FETCH answered, by the bus loop; neither reaches here.
            throw BusDecodingError(description: "\(message.command.rawValue) is not a worker command here")
        }
    }

    /// What the bus does with a `FETCH`: answer it at once, or read the file for `workerID`.
    public enum FetchAdmission: Sendable {
        /// Send these (a `REJECT not_registered`, or a `FILE` refusing the request).
        case answer([Outbound])
        /// The connection is a welcomed worker that holds that attempt of the job: read the
        /// file off the bus thread (`JobFileReader` checks the rest against the database).
        case read(workerID: String)
    }

    /// The part of a `FETCH`'s acceptance the dispatcher knows without the database: the
    /// connection is a welcomed worker, and it holds that attempt of the job now.
    public func admitFetch(identity: [UInt8], fetch: FileFetch, now: Date = Date()) -> FetchAdmission {
        guard let workerID = workerIDByIdentity[identity], let worker = workers[workerID] else {
            return .answer([Outbound(identity: identity, message: BusMessage(.reject, Reject(code: Reject.notRegistered, message: "send HELLO first")))])
        }
        workers[workerID]?.lastHeard = now
        if let problem = fetch.problem {
            return .answer([Outbound(identity: identity, message: BusMessage(.file, FileChunk(
                answering: fetch, failure: .init(code: FileChunk.Failure.badRequest, message: problem))))])
        }
        guard fetch.attempt > 0, worker.running[fetch.jobID] == fetch.attempt else {
            return .answer([Outbound(identity: identity, message: BusMessage(.file, FileChunk(
                answering: fetch, failure: .init(code: FileChunk.Failure.notRunning, message: "this worker does not run attempt \(fetch.attempt) of that job"))))])
        }
        return .read(workerID: workerID)
    }

    /// Live output of a run: kept only while that attempt runs on this worker (anything else,
    /// a stale attempt or a job it does not hold, is ignored), and woken watchers read it.
    /// Nothing is written to the store: the `RESULT` brings the whole output.
    private func receiveOutput(_ chunk: JobOutputChunk, from workerID: String) {
        guard workers[workerID]?.running[chunk.jobID] == chunk.attempt else { return }
        var stored = chunk
        // Stored as text, as a RESULT's output is; the offsets count what the worker sent.
        stored.stdout = chunk.stdout.replacingNUL
        stored.stderr = chunk.stderr.replacingNUL
        if watch.live.append(stored, received: (chunk.stdout.utf8.count, chunk.stderr.utf8.count)) {
            watch.changed(chunk.jobID)
        }
    }

    /// Jobs could not be delivered: put them straight back in the queue, their attempts
    /// uncounted, and forget the worker when its connection is gone.
    public func undeliverable(_ jobs: [JobAssignment], to identity: [UInt8], connectionGone: Bool = true, now: Date = Date()) throws -> [Outbound] {
        guard let workerID = workerIDByIdentity[identity] else { return [] }
        var out = commit(now: now)
        for job in jobs where workers[workerID]?.running[job.jobID] == job.attempt {
            workers[workerID]?.running[job.jobID] = nil
            deadlines[job.jobID] = nil
            watch.live.end(jobID: job.jobID, attempt: job.attempt)
            if let released = try store.release(jobID: job.jobID, attempt: job.attempt, workerID: workerID, at: now) {
                requeued(released)
            }
        }
        if connectionGone {
            try dropWorker(workerID, now: now, reason: "unreachable")
        } else {
            // Alive but not reading (its queue is full): no more jobs until it catches up.
            workers[workerID]?.draining = true
            logger.warning("worker not keeping up; it gets no more jobs", metadata: ["worker": "\(workerID)"])
        }
        out += commit(now: now)
        return out
    }

    /// A job was cancelled while running: ask its worker to stop it. The slot stays taken
    /// until the worker reports the run ended.
    public func cancel(jobID: String, attempt: Int, on workerID: String) -> [Outbound] {
        guard let worker = workers[workerID], worker.running[jobID] == attempt else { return [] }
        return [Outbound(identity: worker.identity, message: BusMessage(.cancel, RunningJob(jobID: jobID, attempt: attempt)))]
    }

    // MARK: Time

    /// Periodic work: heartbeats out, dead peers, the restart grace period, queue timeouts.
    /// Each of them runs at most once per heartbeat interval, however often the bus ticks.
    ///
    /// `inputDrained` says whether every message that arrived has been read: only then may a
    /// worker be called silent. Behind on its input (a burst of hellos), the bus would
    /// otherwise drop live workers whose heartbeats are waiting unread in the socket.
    public func tick(now: Date = Date(), inputDrained: Bool = true) throws -> [Outbound] {
        var out = commit(now: now)
        if inputDrained, now.timeIntervalSince(lastLivenessCheck) >= settings.heartbeatInterval {
            lastLivenessCheck = now
            let deadAfter = Double(settings.deadAfterIntervals)
            for worker in workers.values where now.timeIntervalSince(worker.lastHeard) > worker.heartbeatInterval * deadAfter {
                metrics?.workerDroppedForSilence()
                try dropWorker(worker.workerID, now: now, reason: "silent for \(settings.deadAfterIntervals) heartbeats")
            }
        }
        out += keepLeases(now: now)
        if let deadline = recoveryDeadline, now >= deadline {
            for job in try store.runningJobs() where job.workerID.flatMap({ workers[$0]?.running[job.id] }) != job.attempts {
                try lose(job, reason: "its worker did not return after the server restarted", now: now)
            }
            // Only once all of them are settled: a failure above retries on the next tick.
            recoveryDeadline = nil
        }
        for (jobID, deadline) in deadlines where now >= deadline.at {
            deadlines[jobID] = nil
            guard let expired = try store.expire(jobID: jobID, attempt: deadline.attempt, heldBy: membership?.server.id, at: now) else { continue }
            logger.warning("job overran its time limit without a result", metadata: ["job": "\(jobID)", "worker": "\(expired.workerName ?? "")"])
            jobFinished(FinishedJob(id: expired.id, status: expired.status))
            if let workerID = expired.workerID { out += cancel(jobID: jobID, attempt: deadline.attempt, on: workerID) }
        }
        if now.timeIntervalSince(lastQueueSweep) >= settings.heartbeatInterval, !ready.isEmpty {
            lastQueueSweep = now
            for job in try store.failUnclaimed(queuedBefore: now.addingTimeInterval(-settings.queueTimeout), at: now) {
                logger.info("job expired in queue", metadata: ["job": "\(job.id)"])
                ready.remove(job.id)
                jobFinished(FinishedJob(id: job.id, status: job.status))
            }
        }
        // Once per base interval, a heartbeat to each worker whose own interval is (about)
        // up: intervals are whole numbers of base intervals. A fleet that grew lengthens the
        // interval of the workers already connected, which the heartbeat tells them (never
        // shortened while connected: a worker is judged by the longer one at once).
        if now.timeIntervalSince(lastHeartbeat) >= settings.heartbeatInterval {
            lastHeartbeat = now
            let fleetInterval = settings.heartbeatInterval(forFleetOf: workers.count)
            var beats: [TimeInterval: BusMessage] = [:]
            let slack = settings.heartbeatInterval / 2
            for (id, worker) in workers where now.timeIntervalSince(worker.lastBeatSent) >= worker.heartbeatInterval - slack {
                let interval = max(worker.heartbeatInterval, fleetInterval)
                workers[id]?.heartbeatInterval = interval
                workers[id]?.lastBeatSent = now
                let beat = beats[interval] ?? BusMessage(.heartbeat, ServerHeartbeat(heartbeatMS: Int((interval * 1000).rounded())))
                beats[interval] = beat
                out.append(Outbound(identity: worker.identity, message: beat))
            }
        }
        out += commit(now: now)
        return out
    }

    // MARK: Commit and dispatch

    /// Records the pending results and assigns queued jobs to eligible workers' free slots
    /// (each job, in dispatch order, to the eligible worker with the most free slots), in
    /// one transaction; returns the `JOB`s to send. If the transaction fails, nothing of it
    /// happened: the runs stay held under their deadlines, the chosen jobs stay queued, and
    /// the next commit tries again.
    public func commit(now: Date = Date()) -> [Outbound] {
        guard dispatchWanted || !pendingResults.isEmpty || !pendingConnected.isEmpty else { return [] }
        dispatchWanted = false
        let results = pendingResults
        pendingResults = []
        let connected = pendingConnected
        pendingConnected = [:]
        let picks = chooseAssignments()
        let committed: BusBatchCommit
        let started = ContinuousClock.now
        do {
            committed = try store.commitBusBatch(
                results: results.map { (outcome: $0.outcome, workerID: $0.workerID) }, assignments: picks.map(\.assignment),
                connected: Array(connected.values), lease: lease, at: now)
            metrics?.committed(results: pendingResults.count, took: ContinuousClock.now - started)
        } catch {
            logger.error("could not record results and assignments; retrying", metadata: [
                "results": "\(results.count)", "assignments": "\(picks.count)", "error": "\(error)",
            ])
            for pending in results {
                guard let freed = pending.freed, workers[pending.workerID] != nil else { continue }
                workers[pending.workerID]?.running[pending.outcome.jobID] = freed.attempt
                deadlines[pending.outcome.jobID] = freed
            }
            for pick in picks {
                workers[pick.assignment.workerID]?.running[pick.assignment.jobID] = nil
                ready.insert(pick.job, again: true)
            }
            // Still connected ones are recorded by the retry.
            pendingConnected.merge(connected.filter { workers[$0.key] != nil }) { newer, _ in newer }
            // Again at the next tick, not at once: the store may need a moment.
            dispatchWanted = true
            hasBacklog = false
            return []
        }

        for (pending, finished) in zip(results, committed.finished) {
            // Stored now (or ignored): the live output of that run is no longer needed.
            if pending.freed != nil { watch.live.end(jobID: pending.outcome.jobID, attempt: pending.outcome.attempt) }
            if let finished {
                metrics?.resultRecorded(runMS: pending.outcome.durationMS)
                jobFinished(finished)
            } else {
                logger.info("ignored a result for an attempt that no longer counts", metadata: [
                    "job": "\(pending.outcome.jobID)", "attempt": "\(pending.outcome.attempt)", "worker": "\(pending.workerName)",
                ])
            }
        }
        var out: [Outbound] = []
        for (pick, assigned) in zip(picks, committed.assigned) {
            let workerID = pick.assignment.workerID
            guard let assigned else {
                // It left the queue meanwhile (cancelled): the slot is free again.
                workers[workerID]?.running[pick.assignment.jobID] = nil
                dispatchWanted = true
                continue
            }
            guard let identity = workers[workerID]?.identity else { continue }
            metrics?.jobDispatched(waited: now.timeIntervalSince(pick.job.createdAt))
            workers[workerID]?.running[assigned.id] = assigned.attempt
            watch.live.begin(jobID: assigned.id, attempt: assigned.attempt, cap: assigned.limits.maxOutputBytes)
            watch.changed(assigned.id)
            let deadline = deadline(timeoutSeconds: assigned.limits.timeoutSeconds, from: now)
            deadlines[assigned.id] = (assigned.attempt, deadline)
            out.append(Outbound(identity: identity, message: BusMessage(.job, assignment(for: assigned, deadline: deadline))))
        }
        if picks.count == Self.maxAssignmentsPerCommit { dispatchWanted = true }
        hasBacklog = dispatchWanted && !ready.isEmpty
        return out
    }

    /// A free slot of a worker, for the per-placement heaps of one dispatch round: the most
    /// free slots first, then the lowest worker id.
    private struct FreeSlots: Comparable {
        let count: Int
        let workerID: String

        static func < (lhs: FreeSlots, rhs: FreeSlots) -> Bool {
            lhs.count != rhs.count ? lhs.count < rhs.count : lhs.workerID > rhs.workerID
        }
    }

    /// Takes jobs from the index for the free slots and marks the slots taken (attempt 0
    /// until the commit counts the attempt). A round costs one eligibility check per queued
    /// placement and connected worker with free slots, then a few heap operations per
    /// assignment, whatever the depth of the queue.
    private func chooseAssignments() -> [(assignment: Assignment, job: QueuedJob)] {
        guard !ready.isEmpty else { return [] }
        var free: [String: Int] = [:]
        for worker in workers.values where worker.freeSlots > 0 { free[worker.workerID] = worker.freeSlots }
        guard !free.isEmpty else { return [] }
        var candidates: [QueuedJob.Placement: Heap<FreeSlots>] = [:]
        for placement in ready.placements {
            let eligible = free.compactMap { id, count in workers[id]!.canRun(placement) ? FreeSlots(count: count, workerID: id) : nil }
            if !eligible.isEmpty { candidates[placement] = Heap(eligible) }
        }
        var picks: [(assignment: Assignment, job: QueuedJob)] = []
        while picks.count < Self.maxAssignmentsPerCommit {
            var best: (placement: QueuedJob.Placement, entry: ReadyIndex.Entry, workerID: String)?
            for placement in Array(candidates.keys) {
                // Entries whose count is out of date are refreshed on the way to the top.
                while let top = candidates[placement]?.max, free[top.workerID] != top.count {
                    candidates[placement]?.removeMax()
                    if let count = free[top.workerID] { candidates[placement]?.insert(FreeSlots(count: count, workerID: top.workerID)) }
                }
                guard let top = candidates[placement]?.max, let head = ready.head(of: placement) else {
                    candidates[placement] = nil
                    continue
                }
                if best == nil || head.precedes(best!.entry) { best = (placement, head, top.workerID) }
            }
            guard let best, let entry = ready.popHead(of: best.placement), let worker = workers[best.workerID] else { break }
            // A stale entry of a job already running here (news of its queueing came late):
            // claiming it would fail, and marking the slot would clobber the run.
            if deadlines[entry.id] != nil { continue }
            free[worker.workerID] = free[worker.workerID].flatMap { $0 > 1 ? $0 - 1 : nil }
            workers[worker.workerID]?.running[entry.id] = 0
            picks.append((Assignment(jobID: entry.id, workerID: worker.workerID, workerName: worker.name), entry.job))
        }
        return picks
    }

    private func assignment(for job: AssignedJob, deadline: Date) -> JobAssignment {
        let files = job.files.map { JobFileRef(id: $0.fileID, name: $0.name, sha256: $0.sha256, size: $0.size) }
        let token = files.isEmpty ? nil : fileTokens?.issue(jobID: job.id, attempt: job.attempt, expires: deadline)
        return JobAssignment(
            jobID: job.id, attempt: job.attempt, code: job.code, inputs: job.inputs, limits: job.limits,
            entrypoint: job.entrypoint, requirements: job.requirements, files: files, fileToken: token, dirs: job.dirs)
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
        var out = commit(now: now)
        let affected = workers.values.filter { worker in
            switch revocation {
            case .user(let userID): worker.kind == .private && worker.ownerID == userID
            case .credential(let credential): worker.credential == credential
            }
        }
        for worker in affected {
            out.append(Outbound(identity: worker.identity, message: BusMessage(.reject, Reject(
                code: Reject.unauthorized, message: "the worker's credential was revoked or its user disabled"))))
            try dropWorker(worker.workerID, now: now, reason: "lost its credential")
        }
        out += commit(now: now)
        return out
    }

    // MARK: Loss

    private func deadline(timeoutSeconds: Double, from start: Date) -> Date {
        start.addingTimeInterval(timeoutSeconds + max(30, settings.deadPeerTimeout * 2))
    }

    private func dropWorker(_ workerID: String, now: Date, reason: String) throws {
        guard let worker = workers.removeValue(forKey: workerID) else { return }
        workerIDByIdentity[worker.identity] = nil
        // Never recorded online after all: the disconnect below must not be overwritten.
        pendingConnected[workerID] = nil
        logger.warning("worker disconnected", metadata: ["worker": "\(worker.name)", "reason": "\(reason)"])
        for (jobID, attempt) in worker.running {
            deadlines[jobID] = nil
            watch.live.end(jobID: jobID, attempt: attempt)
            if let job = try store.job(id: jobID), job.attempts == attempt {
                try lose(job, reason: "worker \(worker.name) \(reason)", now: now)
            }
        }
        try store.workerDisconnected(id: workerID, at: now)
        dispatchWanted = true
    }

    private func lose(_ job: Job, reason: String, now: Date) throws {
        guard let updated = try store.loseJob(jobID: job.id, attempt: job.attempts, heldBy: membership?.server.id, at: now) else { return }
        // No longer run here: its deadline goes (and with it the guard against claiming it again).
        if deadlines[job.id]?.attempt == job.attempts { deadlines[job.id] = nil }
        logger.warning("job lost its worker", metadata: [
            "job": "\(job.id)", "attempt": "\(job.attempts)", "reason": "\(reason)", "now": "\(updated.status.rawValue)",
        ])
        if updated.status.isFinal { jobFinished(FinishedJob(id: updated.id, status: updated.status)) } else { requeued(updated) }
    }
}
