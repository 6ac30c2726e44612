import AgentOSSandbox
import AgentOSWire
import DequeModule
import Foundation
import Logging

/// The worker's side of the bus protocol (docs/PROTOCOL.md §3 and §8) as a pure state
/// machine: events go in (a message arrived, a job finished, time passed, shutdown was
/// asked), actions come out (send this, start that job, open a new socket, stop). It owns
/// the rules — hello and its retry backoff, heartbeats, attempt replacement, resending
/// results after a reconnect, drain and goodbye — and no socket, task or clock: the caller
/// passes the time in and carries the actions out (`WorkerAgent` does both).
public struct WorkerSession: Sendable {
    /// The clock every input is measured on.
    public typealias Instant = ContinuousClock.Instant

    /// What the session asks its owner to do, in order.
    public enum Action: Sendable {
        /// Close the bus socket, if there is one, and open a new one to the server.
        case connect
        /// Send this message.
        case send(BusMessage)
        /// Send this `RESULT`; if it cannot be sent, report it back with `resultNotSent(_:)`.
        case sendResult(BusMessage, RunningJob)
        /// Send this `OUTPUT`; if it cannot be sent, hand the chunk back to its batcher.
        case sendOutput(BusMessage, JobOutputChunk)
        /// Start running this job (and report its end with `finished(_:at:)`).
        case start(JobAssignment)
        /// Stop this run of a job (it still reports its end).
        case cancel(RunningJob)
        /// Log this.
        case log(Logger.Level, String, Logger.Metadata)
        /// Close the socket, giving queued messages `lingerMS` to leave, and stop: with the
        /// reason when the server refused the worker for good, with nil after a goodbye.
        case end(WorkerStopped?, lingerMS: Int)
        /// The answer to a `fetch(_:at:)`: hand it to the job waiting for it.
        case fileArrived(FileChunk)
        /// A `fetch(_:at:)` will get no answer (not connected, reconnected, timed out,
        /// stopping): tell the job waiting for it, which may ask again.
        case fetchFailed(FileFetch, String)
    }

    /// How long stopped jobs get to report their end before the worker leaves without them.
    public static let stopGrace: Duration = .seconds(5)
    /// Most `FETCH`es unanswered at once, for all jobs of this worker (PROTOCOL §3.5.1).
    public static let fetchWindow = 4
    /// How long a `FETCH` waits for its `FILE` before it is given up (and may be asked again).
    public static let fetchTimeout: Duration = .seconds(30)

    private let configuration: WorkerConfiguration
    private var welcomed = false
    /// When the last `HELLO` went out (nil before the first, so `start` runs once).
    private var helloSentAt: Instant?
    /// When to give up waiting for the `WELCOME` of that `HELLO` and start over.
    private var helloDeadline: Instant?
    /// The current wait for a `WELCOME` (before jitter); nil until a first wait has passed
    /// without one.
    private var helloWait: Duration?
    /// The source of the retries' jitter: seeded, so the session stays a function of its inputs.
    private var random: SplitMix64
    private var heartbeat: Duration = .seconds(1)
    private var deadAfterIntervals = 5
    private var lastHeard: Instant?
    /// Which of `configuration.serverEndpoints` the current connection goes to.
    private var endpointIndex = 0
    /// The lease the last welcoming server gave (several servers share its store), and when
    /// a welcoming server was last heard from: past half the lease, the runs are given up.
    private var lease: Duration?
    private var lastServerContact: Instant?
    private var lastSent: Instant?
    /// The attempt of each job running here.
    private var running: [String: Int] = [:]
    /// Outcomes not yet handed to a welcomed connection; resent after a reconnect.
    private var unsent: [String: JobOutcome] = [:]
    /// Outcomes sent recently. The bus has no acknowledgement, so a result sent just before
    /// the server went down may be lost: these are reported and resent after a reconnect,
    /// and the server ignores any it already has.
    private var recentlySent: [String: (outcome: JobOutcome, at: Instant)] = [:]
    /// When each of `recentlySent` was sent, oldest first, so forgetting them costs nothing
    /// per loop (an entry whose job was since dropped or sent again is skipped).
    private var sentOrder: Deque<(jobID: String, at: Instant)> = []
    /// Set when shutdown was asked: no new jobs, leave once everything is delivered or then.
    private var drainDeadline: Instant?
    /// Set when the worker is stopping its jobs to leave: until when it waits for them, and
    /// why it leaves (nil: a goodbye after a drain).
    private var stopping: (deadline: Instant, failure: WorkerStopped?)?
    private var ended = false
    /// Whether this batch of actions hands results to the owner: until the owner has tried
    /// to send them (and reported any that failed), the drain is not over.
    private var resultsInFlight = false
    /// `FETCH`es sent and not yet answered, with when each went out.
    private var fetching: [FileChunk.Key: (request: FileFetch, sentAt: Instant)] = [:]
    /// `FETCH`es waiting for a place in the window, in the order the jobs asked.
    private var fetchQueue: Deque<FileFetch> = []
    private var actions: [Action] = []

    /// A session for a worker configured so; nothing happens until `start(at:)`. `seed` feeds
    /// the retries' jitter (a test passes its own).
    public init(configuration: WorkerConfiguration, seed: UInt64 = .random(in: .min ... .max)) {
        self.configuration = configuration
        self.random = SplitMix64(seed: seed)
    }

    // MARK: Inputs

    /// Connects and says hello.
    public mutating func start(at now: Instant) -> [Action] {
        guard helloSentAt == nil, !ended else { return [] }
        reconnect(at: now)
        return take()
    }

    /// The server sent these frames (after the DEALER's empty routing envelope, if any).
    /// The bus endpoint the current (or next) connection goes to.
    public var endpoint: String { configuration.serverEndpoints[endpointIndex % configuration.serverEndpoints.count] }

    public mutating func received(_ frames: ArraySlice<[UInt8]>, at now: Instant) -> [Action] {
        guard !ended else { return [] }
        lastHeard = now
        if welcomed { lastServerContact = now }
        do {
            let message = try BusMessage(frames: frames)
            do {
                try handle(message, at: now)
            } catch {
                log(.warning, "bad message from server", ["command": "\(message.command.rawValue)", "error": "\(error)"])
            }
        } catch {
            log(.warning, "dropped malformed message from server", ["error": "\(error)"])
        }
        checkProgress(at: now)
        return take()
    }

    /// A run started by `.start` ended with this outcome.
    public mutating func finished(_ outcome: JobOutcome, at now: Instant) -> [Action] {
        // The end of a replaced, older attempt is nobody's business any more.
        guard !ended, running[outcome.jobID] == outcome.attempt else { return [] }
        running[outcome.jobID] = nil
        // Runs stopped to leave are not reported: the server counts them as lost at BYE.
        if stopping == nil {
            unsent[outcome.jobID] = Self.fitting(outcome)
            sendUnsent(at: now)
        }
        checkProgress(at: now)
        return take()
    }

    /// A run has live output to send (§3.13): `.sendOutput` when the server may have it now
    /// (welcomed, that attempt still running here, not stopping); no action otherwise, and
    /// the owner keeps the chunk for later. Live output is optional and never delays a `RESULT`.
    public mutating func output(_ chunk: JobOutputChunk, at now: Instant) -> [Action] {
        guard !ended, welcomed, stopping == nil, running[chunk.jobID] == chunk.attempt else { return [] }
        actions.append(.sendOutput(BusMessage(.output, chunk), chunk))
        lastSent = now
        return take()
    }

    /// A `.sendResult` could not be sent: the outcome waits for the next chance.
    public mutating func resultNotSent(_ run: RunningJob) {
        guard let sent = recentlySent[run.jobID], sent.outcome.attempt == run.attempt else { return }
        recentlySent[run.jobID] = nil
        unsent[run.jobID] = sent.outcome
    }

    /// A job wants bytes of one of its files: `FETCH` them when the window has room, or
    /// say at once that no answer will come (`.fetchFailed`) when not connected.
    public mutating func fetch(_ request: FileFetch, at now: Instant) -> [Action] {
        if ended || stopping != nil {
            actions.append(.fetchFailed(request, "the worker is stopping"))
        } else if !welcomed {
            actions.append(.fetchFailed(request, "not connected to the server"))
        } else {
            fetchQueue.append(request)
            sendFetches(at: now)
        }
        return take()
    }

    /// Graceful shutdown: drain (no new jobs), deliver what runs, then leave.
    public mutating func shutdown(at now: Instant) -> [Action] {
        guard !ended, drainDeadline == nil, stopping == nil else { return [] }
        drainDeadline = now + .seconds(configuration.drainTimeout)
        log(.notice, "draining", ["running": "\(running.count)"])
        if welcomed { send(.drain, EmptyBody(), at: now) }
        checkProgress(at: now)
        return take()
    }

    /// Time passed: heartbeats, the dead-server check, the hello retry, drain deadlines.
    public mutating func tick(at now: Instant) -> [Action] {
        guard !ended else { return [] }
        if stopping == nil { keepAlive(at: now) }
        checkProgress(at: now)
        return take()
    }

    // MARK: State, for the owner and for tests

    /// How often the owner should call `tick(at:)`: a quarter heartbeat, at least 10 ms.
    public var tickInterval: Duration { max(.milliseconds(10), heartbeat / 4) }
    /// Whether the server has welcomed the current connection.
    public var isWelcomed: Bool { welcomed }
    /// Whether the session has ended (after `.end`).
    public var hasEnded: Bool { ended }
    /// The runs in progress.
    public var runningJobs: Set<RunningJob> { Set(running.map { RunningJob(jobID: $0.key, attempt: $0.value) }) }
    /// Outcomes waiting for a welcomed connection.
    public var undelivered: Set<RunningJob> { Set(unsent.values.map { RunningJob(jobID: $0.jobID, attempt: $0.attempt) }) }

    /// The wait for a `WELCOME` after a wait of `previous` passed without one: double, up to
    /// the configured maximum (the first wait is the dead-peer timeout). `jittered` then
    /// picks where within that wait this worker tries again.
    public func nextHelloWait(after previous: Duration) -> Duration {
        min(.seconds(configuration.maxReconnectDelay), max(deadAfter, previous * 2))
    }

    /// `wait` with its jitter: a random point between `wait` and `wait × (1 + helloJitter)`.
    /// Never shorter than the wait itself, so a slow server still gets the whole of it to answer.
    mutating func jittered(_ wait: Duration) -> Duration {
        let jitter = min(1, max(0, configuration.helloJitter))
        guard jitter > 0 else { return wait }
        let fraction = Double(random.next() >> 11) / Double(1 << 53)
        return wait * (1 + jitter * fraction)
    }

    private var deadAfter: Duration { heartbeat * deadAfterIntervals }

    // MARK: Messages from the server

    private mutating func handle(_ message: BusMessage, at now: Instant) throws {
        // Refused for good and stopping: nothing the server says matters any more.
        if stopping?.failure != nil { return }
        switch message.command {
        case .welcome:
            let welcome = try message.decode(Welcome.self)
            welcomed = true
            heartbeat = max(.milliseconds(50), .milliseconds(welcome.heartbeatMS))
            deadAfterIntervals = max(2, welcome.deadAfterIntervals)
            helloWait = nil
            lease = welcome.leaseMS.map { .milliseconds(max(1000, $0)) }
            lastServerContact = now
            log(.info, "connected", ["server": "\(endpoint)", "worker": "\(configuration.name)"])
            if drainDeadline != nil { send(.drain, EmptyBody(), at: now) }
            sendUnsent(at: now)
        case .reject:
            try handleReject(message.decode(Reject.self), at: now)
        case .heartbeat:
            // The server lengthens intervals as its fleet grows: from now on, this one.
            if let milliseconds = try message.decode(ServerHeartbeat.self).heartbeatMS, welcomed {
                heartbeat = max(.milliseconds(50), .milliseconds(milliseconds))
            }
        case .job:
            start(try message.decode(JobAssignment.self), at: now)
        case .cancel:
            cancel(try message.decode(RunningJob.self), at: now)
        case .file:
            let chunk = try message.decode(FileChunk.self)
            // An answer nobody waits for (it came after its timeout or a reconnect) is dropped.
            guard fetching.removeValue(forKey: chunk.key) != nil else { return }
            actions.append(.fileArrived(chunk))
            sendFetches(at: now)
        case .hello, .started, .result, .release, .drain, .bye, .part, .fetch, .output:
            throw BusDecodingError(description: "not a server command")
        }
    }

    private mutating func handleReject(_ reject: Reject, at now: Instant) {
        switch reject.code {
        case Reject.notRegistered:
            // The server forgot us (it restarted): introduce ourselves again. Before a
            // WELCOME, the hello retry covers it.
            if welcomed {
                welcomed = false
                sendHello(at: now)
            }
        case Reject.unavailable:
            // The server could not decide now; the hello retry tries again.
            log(.warning, "server could not accept this worker yet", ["reason": "\(reject.message)"])
            welcomed = false
        default:
            log(.critical, "server refused this worker", ["code": "\(reject.code)", "reason": "\(reject.message)"])
            // A desktop on a CURVE bus speaks with a token of its own, which attach makes again.
            let advice = configuration.kind != .private || reject.code != Reject.unauthorized ? ""
                : configuration.curve != nil
                ? " (this desktop's bus token was revoked, or your account disabled: attach again to make a new token, or run `agentos login`)"
                : " (your login may have expired: run `agentos login` again)"
            beginStopping(because: WorkerStopped(description: "the server refused this worker: \(reject.message)\(advice)"), at: now)
        }
    }

    private mutating func start(_ job: JobAssignment, at now: Instant) {
        let run = RunningJob(jobID: job.jobID, attempt: job.attempt)
        guard drainDeadline == nil else {
            send(.release, run, at: now)
            return
        }
        // A repeated JOB, or one for an attempt older than what this worker holds, changes
        // nothing. A newer attempt (the server gave up on the old run, e.g. during a
        // reconnect) replaces the old run, and any undelivered outcome of it.
        if let held = heldAttempt(of: job.jobID), job.attempt <= held { return }
        if let old = running[job.jobID] { actions.append(.cancel(RunningJob(jobID: job.jobID, attempt: old))) }
        unsent[job.jobID] = nil
        recentlySent[job.jobID] = nil
        running[job.jobID] = job.attempt
        actions.append(.start(job))
        send(.started, run, at: now)
    }

    /// The attempt of a job this worker runs or holds an outcome of.
    private func heldAttempt(of jobID: String) -> Int? {
        running[jobID] ?? unsent[jobID]?.attempt ?? recentlySent[jobID]?.outcome.attempt
    }

    private mutating func cancel(_ run: RunningJob, at now: Instant) {
        if running[run.jobID] == run.attempt {
            actions.append(.cancel(run))
            failFetches(because: "the job was cancelled") { $0.jobID == run.jobID }
        } else if unsent[run.jobID]?.attempt == run.attempt {
            // An undelivered outcome still goes out: the server frees the slot on it and
            // ignores the rest.
        } else if welcomed {
            // Nothing of that run here (its JOB never arrived whole, or its RESULT is gone):
            // say so, or the server would hold its slot until the next hello. A CANCEL before
            // WELCOME answers the HELLO, and that run no longer counts against the slots.
            send(.release, run, at: now)
        }
        if recentlySent[run.jobID]?.outcome.attempt == run.attempt { recentlySent[run.jobID] = nil }
    }

    // MARK: Time

    private mutating func keepAlive(at now: Instant) {
        let overdue = fetching.values.filter { now - $0.sentAt >= Self.fetchTimeout }
        for entry in overdue.sorted(by: { $0.sentAt < $1.sentAt }) {
            fetching[entry.request.key] = nil
            actions.append(.fetchFailed(entry.request, "no answer from the server within \(Self.fetchTimeout.components.seconds) s"))
        }
        if !overdue.isEmpty { sendFetches(at: now) }
        while let oldest = sentOrder.first, now - oldest.at >= deadAfter * 2 {
            sentOrder.removeFirst()
            if recentlySent[oldest.jobID]?.at == oldest.at { recentlySent[oldest.jobID] = nil }
        }
        giveUpRunsPastTheirLease(at: now)
        if welcomed {
            if let lastHeard, now - lastHeard > deadAfter {
                log(.warning, "server silent; reconnecting", ["silent_ms": "\((now - lastHeard) / .milliseconds(1))"])
                nextEndpoint()
                reconnect(at: now)
            } else {
                // A result the socket would not take (its queue was full) is tried again.
                sendUnsent(at: now)
                if lastSent.map({ now - $0 >= heartbeat }) ?? true { send(.heartbeat, EmptyBody(), at: now) }
            }
        } else if let helloDeadline, now >= helloDeadline {
            log(.info, "no welcome yet; retrying", ["endpoint": "\(endpoint)"])
            helloWait = nextHelloWait(after: helloWait ?? deadAfter)
            nextEndpoint()
            reconnect(at: now)
        }
    }

    /// With several servers, the next one gets the next connection.
    private mutating func nextEndpoint() {
        guard configuration.serverEndpoints.count > 1 else { return }
        endpointIndex = (endpointIndex + 1) % configuration.serverEndpoints.count
        log(.notice, "trying another server", ["endpoint": "\(endpoint)"])
    }

    /// No server heard from for half the lease the last one gave: the server that held these
    /// runs may be gone, and another will requeue them once the lease is over. They are
    /// stopped now, before that can happen, and not reported: a job never runs on two workers
    /// at once past its lease.
    private mutating func giveUpRunsPastTheirLease(at now: Instant) {
        guard let lease, let lastServerContact, !running.isEmpty, now - lastServerContact > lease / 2 else { return }
        log(.warning, "no server for half a lease; stopping the runs it may hand to others", [
            "jobs": "\(running.keys.sorted())", "lease_ms": "\(lease / .milliseconds(1))",
        ])
        for (jobID, attempt) in running.sorted(by: { $0.key < $1.key }) {
            actions.append(.cancel(RunningJob(jobID: jobID, attempt: attempt)))
            unsent[jobID] = nil
        }
        running.removeAll()
    }

    /// Leaves when the drain is over, or when the stopped jobs have ended (or had their time).
    private mutating func checkProgress(at now: Instant) {
        if let stopping {
            guard running.isEmpty || now >= stopping.deadline else { return }
            if !running.isEmpty {
                log(.error, "jobs did not stop in time", ["jobs": "\(running.keys.sorted())"])
            }
            ended = true
            if let failure = stopping.failure {
                actions.append(.end(failure, lingerMS: 0))
            } else {
                // A server that has not welcomed this connection does not know it: no goodbye.
                if welcomed { send(.bye, EmptyBody(), at: now) }
                log(.notice, "worker stopped", [:])
                // Give the goodbye a moment to leave before the socket closes.
                actions.append(.end(nil, lingerMS: 500))
            }
        } else if let drainDeadline, (running.isEmpty && unsent.isEmpty && !resultsInFlight) || now >= drainDeadline {
            beginStopping(because: nil, at: now)
        }
    }

    /// Stops what still runs and leaves once it has ended: with a goodbye after a drain (the
    /// server puts those runs back in the queue with the attempt counted, as they did start,
    /// so a job that never fits a drain window cannot come back for ever), or with `failure`.
    private mutating func beginStopping(because failure: WorkerStopped?, at now: Instant) {
        if let current = stopping {
            // Refused while stopping after a drain: leave with the refusal, and without a goodbye.
            if current.failure == nil, let failure { stopping = (current.deadline, failure) }
            return
        }
        stopping = (now + Self.stopGrace, failure)
        failFetches(because: "the worker is stopping") { _ in true }
        if !running.isEmpty { log(.notice, "stopping unfinished jobs", ["count": "\(running.count)"]) }
        for (jobID, attempt) in running.sorted(by: { $0.key < $1.key }) {
            actions.append(.cancel(RunningJob(jobID: jobID, attempt: attempt)))
        }
        checkProgress(at: now)
    }

    // MARK: Sending

    private mutating func reconnect(at now: Instant) {
        welcomed = false
        actions.append(.connect)
        sendHello(at: now)
    }

    /// `HELLO` listing the runs still going and every undelivered or recently sent outcome.
    /// A new registration: the `FETCH`es of the old one will not be answered.
    private mutating func sendHello(at now: Instant) {
        failFetches(because: "the connection to the server was reset") { _ in true }
        for (jobID, sent) in recentlySent { unsent[jobID] = sent.outcome }
        recentlySent.removeAll()
        sentOrder.removeAll()
        // Runs in progress first; past the HELLO's limit, the server requeues what is not
        // listed, and ignores that outcome when it comes (a job is run again, never lost).
        let reported = (running.map { RunningJob(jobID: $0.key, attempt: $0.value) }
            + unsent.values.map { RunningJob(jobID: $0.jobID, attempt: $0.attempt) }).prefix(Bus.maxHelloRunning)
        send(.hello, Hello(
            workerID: configuration.workerID, name: configuration.name, version: AgentOSVersion.current,
            slots: configuration.slots, labels: configuration.labels, runtimes: ["python3"], kind: configuration.kind,
            credential: configuration.credentialSource?() ?? configuration.credential,
            running: reported.sorted { ($0.jobID, $0.attempt) < ($1.jobID, $1.attempt) },
            folders: configuration.folders.isEmpty ? nil : configuration.folders.map(\.name).sorted()), at: now)
        helloSentAt = now
        helloDeadline = now + jittered(helloWait ?? deadAfter)
        lastHeard = now
    }

    private mutating func sendUnsent(at now: Instant) {
        guard welcomed, stopping == nil else { return }
        for outcome in unsent.values.sorted(by: { $0.jobID < $1.jobID }) {
            actions.append(.sendResult(BusMessage(.result, outcome), RunningJob(jobID: outcome.jobID, attempt: outcome.attempt)))
            resultsInFlight = true
            lastSent = now
            unsent[outcome.jobID] = nil
            recentlySent[outcome.jobID] = (outcome, now)
            sentOrder.append((outcome.jobID, now))
        }
    }

    /// Sends waiting `FETCH`es while fewer than `fetchWindow` are unanswered.
    private mutating func sendFetches(at now: Instant) {
        while welcomed, fetching.count < Self.fetchWindow, let next = fetchQueue.popFirst() {
            fetching[next.key] = (next, now)
            send(.fetch, next, at: now)
        }
    }

    /// Gives up the `FETCH`es, sent or waiting, that `matching` picks.
    private mutating func failFetches(because reason: String, matching: (FileFetch) -> Bool) {
        let given = fetching.values.map { $0.request }.filter(matching).sorted { ($0.jobID, $0.fileID, $0.offset) < ($1.jobID, $1.fileID, $1.offset) }
            + fetchQueue.filter(matching)
        for request in given {
            fetching[request.key] = nil
            actions.append(.fetchFailed(request, reason))
        }
        fetchQueue.removeAll(where: matching)
    }

    private mutating func send(_ command: BusCommand, _ body: some Encodable, at now: Instant) {
        actions.append(.send(BusMessage(command, body)))
        lastSent = now
    }

    private mutating func log(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        actions.append(.log(level, message, metadata))
    }

    private mutating func take() -> [Action] {
        defer {
            actions.removeAll()
            resultsInFlight = false
        }
        return actions
    }

    /// An outcome small enough for one bus message: an engine that lets a result through
    /// past the bus limit gets it replaced by an `output_limit` failure, never a lost result.
    public static func fitting(_ outcome: JobOutcome) -> JobOutcome {
        let size = BusMessage(.result, outcome).body.count
        guard size > Bus.maxMessageBytes - 4096 else { return outcome }
        var small = outcome
        small.status = .failed
        small.result = nil
        small.error = "output_limit: the outcome is \(size) bytes, over the bus limit of \(Bus.maxMessageBytes)"
        small.stdout = String(decoding: Array(outcome.stdout.utf8.prefix(65_536)), as: UTF8.self)
        small.stderr = String(decoding: Array(outcome.stderr.utf8.prefix(65_536)), as: UTF8.self)
        small.outputTruncated = true
        return small
    }
}

/// SplitMix64 (Steele, Lea and Flood): a small, fast, seeded generator, enough to spread retries.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
