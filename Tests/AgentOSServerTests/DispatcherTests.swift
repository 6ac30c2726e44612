import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import Logging
import Synchronization
import Testing

/// Ids of jobs the dispatcher reported finished, in order.
final class FinishedJobs: Sendable {
    let ids = Mutex<[String]>([])
}

/// Drives a `Dispatcher` over an in-memory store with a controlled clock.
final class DispatcherHarness {
    let store: any AppStore
    let dispatcher: Dispatcher
    let alice: User
    let bob: User
    let project: Project
    let recorder = FinishedJobs()
    /// What the dispatcher tells API requests: live output and changes.
    let watch = JobWatch(live: LiveOutput(maxTotalBytes: 1 << 20))
    var now = Date(timeIntervalSince1970: 1_700_000_000)

    init(heartbeat: TimeInterval = 1, maxHeartbeatsPerSecond: Double = 4000) throws {
        store = try SQLiteStore.inMemory()
        alice = try store.createUser(User(email: "alice@example.com", name: "Alice", passwordHash: "x", role: .user))
        bob = try store.createUser(User(email: "bob@example.com", name: "Bob", passwordHash: "x", role: .user))
        project = try store.createProject(name: "p", owner: alice.id)
        var settings = Dispatcher.Settings()
        settings.heartbeatInterval = heartbeat
        settings.maxHeartbeatsPerSecond = maxHeartbeatsPerSecond
        let recorder = self.recorder
        dispatcher = try Dispatcher(store: store, settings: settings, logger: Logger(label: "test"), now: now, watch: watch) { job in
            recorder.ids.withLock { $0.append(job.id) }
        }
    }

    func submit(
        target: JobTarget = .cloud, by user: User? = nil, labels: [String] = [], worker: String? = nil, maxAttempts: Int = 3,
        dirs: [String] = []
    ) throws -> Job {
        now += 0.001
        let job = try store.submit(Job(
            projectID: project.id, code: "pass", inputs: [:], target: target, requestedWorker: worker, labels: labels,
            maxAttempts: maxAttempts, submittedBy: (user ?? alice).id, createdAt: now, dirs: dirs)).job
        // As the API tells the bus once the submit committed.
        dispatcher.enqueue([QueuedJob(job)])
        return job
    }

    @discardableResult
    func connect(
        _ name: String, slots: Int = 1, kind: WorkerKind = .cloud, owner: User? = nil, labels: [String] = [],
        running: [RunningJob] = [], credential: WorkerCredentialRef? = nil
    ) throws -> [Outbound] {
        let hello = Hello(
            workerID: "id-\(name)", name: name, version: "test", slots: slots, labels: labels, runtimes: ["python3"],
            kind: kind, credential: WorkerCredential(), running: running)
        // As the bus does: the hello, then the loop iteration's commit.
        return try dispatcher.accept(
            identity: Array(name.utf8), hello: hello, principal: WorkerPrincipal(kind: kind, ownerID: owner?.id, credential: credential), now: now)
            + dispatcher.commit(now: now)
    }

    /// One message in a loop iteration of its own: received, then committed.
    func send(_ name: String, _ command: BusCommand, _ body: some Encodable) throws -> [Outbound] {
        try dispatcher.receive(identity: Array(name.utf8), message: BusMessage(command, body), now: now) + dispatcher.commit(now: now)
    }

    func succeed(_ name: String, _ assignment: JobAssignment) throws -> [Outbound] {
        try send(name, .result, JobOutcome(jobID: assignment.jobID, attempt: assignment.attempt, status: .succeeded, result: 1))
    }
}

extension Array where Element == Outbound {
    /// The jobs assigned, by worker name.
    func jobs(to name: String) throws -> [JobAssignment] {
        try filter { $0.identity == [UInt8](name.utf8) && $0.message.command == .job }.map { try $0.message.decode(JobAssignment.self) }
    }

    var allJobs: [JobAssignment] { compactMap { $0.message.command == .job ? try? $0.message.decode(JobAssignment.self) : nil } }

    func commands(to name: String) -> [BusCommand] { filter { $0.identity == [UInt8](name.utf8) }.map(\.message.command) }
}

@Suite struct DispatcherTests {
    @Test func revokingACredentialDisconnectsItsWorkersAndRequeuesTheirJobs() throws {
        let harness = try DispatcherHarness()
        try harness.store.createWorkerToken(WorkerToken(id: "wt-1", name: "w", tokenHash: "h1"))
        try harness.store.createSession(AuthSession(id: "s-1", userID: harness.alice.id, lifetime: 3600, address: nil), refreshTokenHash: "h2")
        try harness.store.createPersonalToken(PersonalToken(id: "pat-1", userID: harness.bob.id, name: "p", tokenHash: "h3", prefix: "p", expiresAt: nil))
        try harness.connect("cloud", credential: .workerToken("wt-1"))
        try harness.connect("desk", kind: .private, owner: harness.alice, credential: .session("s-1"))
        try harness.connect("other", kind: .private, owner: harness.bob, credential: .personalToken("pat-1"))
        let cloudJob = try harness.submit()
        let privateJob = try harness.submit(target: .private, by: harness.alice)
        _ = harness.dispatcher.commit(now: harness.now)
        #expect(try harness.store.job(id: cloudJob.id)?.status == .running)

        // Unrelated credentials change nothing.
        #expect(try harness.dispatcher.revoke(.credential(.workerToken("wt-2")), now: harness.now).isEmpty)
        #expect(try harness.dispatcher.revoke(.user(harness.bob.id + "x"), now: harness.now).isEmpty)

        let out = try harness.dispatcher.revoke(.credential(.workerToken("wt-1")), now: harness.now)
        #expect(out.contains { $0.identity == Array("cloud".utf8) && $0.message.command == .reject })
        #expect(!harness.dispatcher.connectedWorkers.contains { $0.name == "cloud" })
        let requeued = try #require(try harness.store.job(id: cloudJob.id))
        #expect(requeued.status == .queued)
        #expect(requeued.attempts == 1)

        // Disabling a user drops all their private workers, whatever they logged in with.
        _ = try harness.dispatcher.revoke(.user(harness.alice.id), now: harness.now)
        #expect(harness.dispatcher.connectedWorkers.map(\.name) == ["other"])
        #expect(try harness.store.job(id: privateJob.id)?.status == .queued)
        _ = try harness.dispatcher.revoke(.credential(.personalToken("pat-1")), now: harness.now)
        #expect(harness.dispatcher.connectedWorkers.isEmpty)

        // A hello whose credential was revoked after it was checked is still turned away.
        try harness.store.revokeWorkerToken(id: "wt-1")
        let late = try harness.connect("cloud", credential: .workerToken("wt-1"))
        #expect(late.map(\.message.command) == [.reject])
        #expect(harness.dispatcher.connectedWorkers.isEmpty)
    }

    @Test func workerGetsOnlyAsManyJobsAsItHasFreeSlots() throws {
        let h = try DispatcherHarness()
        for _ in 0..<5 { _ = try h.submit() }
        let out = try h.connect("w", slots: 2)
        #expect(out.commands(to: "w").first == .welcome)
        let first = try out.jobs(to: "w")
        #expect(first.count == 2)
        #expect(h.dispatcher.commit(now: h.now).isEmpty, "no credit left, nothing more is sent")
        let next = try h.succeed("w", first[0])
        #expect(try next.jobs(to: "w").count == 1, "one result frees exactly one slot")
    }

    @Test func privateJobsGoOnlyToTheSubmittersPrivateWorker() throws {
        let h = try DispatcherHarness()
        try h.connect("cloud", slots: 4)
        try h.connect("bobs-desk", slots: 4, kind: .private, owner: h.bob)
        _ = try h.submit(target: .private, by: h.alice)
        #expect(h.dispatcher.commit(now: h.now).allJobs.isEmpty, "neither a cloud worker nor another user's desktop")
        let out = try h.connect("alices-desk", slots: 1, kind: .private, owner: h.alice)
        #expect(try out.jobs(to: "alices-desk").count == 1)
    }

    @Test func aJobsFoldersGoOutInItsJob() throws {
        let h = try DispatcherHarness()
        try h.connect("desk", slots: 2, kind: .private, owner: h.alice)
        let withFolders = try h.submit(target: .private, dirs: ["photos", "out"])
        let plain = try h.submit(target: .private)
        let jobs = Dictionary(uniqueKeysWithValues: try h.dispatcher.commit(now: h.now).jobs(to: "desk").map { ($0.jobID, $0) })
        #expect(jobs[withFolders.id]?.dirs == ["photos", "out"])
        #expect(jobs[plain.id]?.dirs == [])
    }

    @Test func cloudJobsNeverGoToPrivateWorkers() throws {
        let h = try DispatcherHarness()
        try h.connect("desk", slots: 4, kind: .private, owner: h.alice)
        _ = try h.submit(target: .cloud)
        #expect(h.dispatcher.commit(now: h.now).allJobs.isEmpty)
    }

    @Test func aNamedPrivateWorkerIsHonoured() throws {
        let h = try DispatcherHarness()
        try h.connect("laptop", slots: 2, kind: .private, owner: h.alice)
        try h.connect("tower", slots: 2, kind: .private, owner: h.alice)
        let job = try h.submit(target: .private, worker: "tower")
        let out = h.dispatcher.commit(now: h.now)
        #expect(try out.jobs(to: "tower").map(\.jobID) == [job.id])
    }

    @Test func everyLabelMustBeCarried() throws {
        let h = try DispatcherHarness()
        try h.connect("gpu-only", slots: 2, labels: ["gpu"])
        let job = try h.submit(labels: ["gpu", "big"])
        #expect(h.dispatcher.commit(now: h.now).allJobs.isEmpty)
        let out = try h.connect("gpu-big", slots: 1, labels: ["gpu", "big", "extra"])
        #expect(try out.jobs(to: "gpu-big").map(\.jobID) == [job.id])
    }

    @Test func silentWorkerIsDeclaredDeadAndItsJobsRequeued() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let first = try h.connect("a", slots: 1)
        #expect(try first.jobs(to: "a").map(\.attempt) == [1])
        try h.connect("b", slots: 1)
        h.now += 5.5  // more than 5 intervals without a word from either
        _ = try h.send("b", .heartbeat, EmptyBody())
        let out = try h.dispatcher.tick(now: h.now)
        #expect(h.dispatcher.connectedWorkers.map(\.name) == ["b"])
        let retried = try out.jobs(to: "b")
        #expect(retried.map(\.jobID) == [job.id] && retried.map(\.attempt) == [2])
    }

    @Test func staleResultFromAnEarlierAttemptIsIgnored() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let firstRun = try h.connect("a", slots: 1).jobs(to: "a")[0]
        _ = try h.send("a", .bye, EmptyBody())  // lost: attempt 1 goes back to the queue
        let secondRun = try h.connect("b", slots: 1).jobs(to: "b")[0]
        #expect(secondRun.attempt == 2)
        try h.connect("a", slots: 1)
        _ = try h.send("a", .result, JobOutcome(jobID: job.id, attempt: firstRun.attempt, status: .failed, error: "old"))
        #expect(try h.store.job(id: job.id)?.status == .running, "the old attempt's result changed nothing")
        _ = try h.succeed("b", secondRun)
        #expect(try h.store.job(id: job.id)?.status == .succeeded)
        #expect(h.recorder.ids.withLock { $0 } == [job.id])
    }

    @Test func attemptsRunOutWithWorkerLost() throws {
        let h = try DispatcherHarness()
        let job = try h.submit(maxAttempts: 2)
        for attempt in 1...2 {
            let out = try h.connect("w\(attempt)", slots: 1)
            #expect(try out.jobs(to: "w\(attempt)").map(\.attempt) == [attempt])
            _ = try h.send("w\(attempt)", .bye, EmptyBody())
        }
        let failed = try #require(try h.store.job(id: job.id))
        #expect(failed.status == .failed && failed.error == "worker_lost" && failed.attempts == 2)
        #expect(h.recorder.ids.withLock { $0 } == [job.id])
    }

    @Test func releasedJobGoesToAnotherWorkerWithoutCountingAnAttempt() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let run = try h.connect("a", slots: 1).jobs(to: "a")[0]
        _ = try h.send("a", .drain, EmptyBody())
        _ = try h.send("a", .release, RunningJob(jobID: run.jobID, attempt: run.attempt))
        #expect(try h.store.job(id: job.id)?.status == .queued, "a draining worker gets nothing back")
        let out = try h.connect("b", slots: 1)
        #expect(try out.jobs(to: "b").map(\.attempt) == [1])
    }

    @Test func reconnectingWorkerKeepsWhatItReportsAndLosesTheRest() throws {
        let h = try DispatcherHarness()
        let kept = try h.submit()
        let dropped = try h.submit()
        let runs = try h.connect("a", slots: 2).jobs(to: "a")
        #expect(runs.count == 2)
        let keptRun = try #require(runs.first { $0.jobID == kept.id })
        let out = try h.connect("a", slots: 2, running: [RunningJob(jobID: kept.id, attempt: keptRun.attempt)])
        #expect(try h.store.job(id: kept.id)?.status == .running)
        #expect(try out.jobs(to: "a").map(\.jobID) == [dropped.id], "the unreported job was requeued and sent again")
        #expect(try h.store.job(id: dropped.id)?.attempts == 2)
    }

    @Test func reportedJobThatMovedOnIsCancelled() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let run = try h.connect("a", slots: 1).jobs(to: "a")[0]
        _ = try h.succeed("a", run)
        let out = try h.connect("a", slots: 1, running: [RunningJob(jobID: job.id, attempt: run.attempt)])
        #expect(Array(out.commands(to: "a").prefix(2)) == [.cancel, .welcome], "cancels come before the welcome")
    }

    @Test func afterRestartRunningJobsWaitForTheirWorkerThenRequeue() throws {
        let h = try DispatcherHarness()
        let survivor = try h.submit()
        let orphan = try h.submit()
        _ = try h.store.assign(jobID: survivor.id, workerID: "id-back", workerName: "back")
        _ = try h.store.assign(jobID: orphan.id, workerID: "id-gone", workerName: "gone")
        // A fresh dispatcher is a restarted server: the database says both are running.
        var settings = Dispatcher.Settings()
        settings.heartbeatInterval = 1
        let restarted = try Dispatcher(store: h.store, settings: settings, logger: Logger(label: "test"), now: h.now) { _ in }
        let hello = Hello(
            workerID: "id-back", name: "back", version: "t", slots: 1, labels: [], runtimes: [], kind: .cloud,
            credential: WorkerCredential(), running: [RunningJob(jobID: survivor.id, attempt: 1)])
        _ = try restarted.accept(identity: Array("back".utf8), hello: hello, principal: WorkerPrincipal(kind: .cloud, ownerID: nil), now: h.now)
        _ = try restarted.tick(now: h.now + 1)
        #expect(try h.store.job(id: orphan.id)?.status == .running, "still within the grace period")
        _ = try restarted.receive(identity: Array("back".utf8), message: BusMessage(.heartbeat, EmptyBody()), now: h.now + 5)
        _ = try restarted.tick(now: h.now + 5.5)
        #expect(try h.store.job(id: orphan.id)?.status == .queued)
        #expect(try h.store.job(id: survivor.id)?.status == .running)
    }

    @Test func unknownConnectionIsToldToSayHello() throws {
        let h = try DispatcherHarness()
        let out = try h.send("stranger", .heartbeat, EmptyBody())
        #expect(out.commands(to: "stranger") == [.reject])
        #expect(try out[0].message.decode(Reject.self).code == Reject.notRegistered)
    }

    @Test func garbageResultBodyThrowsAndChangesNothing() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        _ = try h.connect("a", slots: 1)
        #expect(throws: BusDecodingError.self) {
            _ = try h.dispatcher.receive(identity: Array("a".utf8), message: BusMessage(.result, ["nonsense": 1]), now: h.now)
        }
        #expect(try h.store.job(id: job.id)?.status == .running)
    }

    @Test func anotherPrincipalCannotTakeOverAWorkerID() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let run = try h.connect("cloud", slots: 1).jobs(to: "cloud")[0]
        // Alice's desktop claims the cloud worker's id and its running job.
        let hijack = Hello(
            workerID: "id-cloud", name: "evil", version: "t", slots: 1, labels: [], runtimes: [], kind: .private,
            credential: WorkerCredential(), running: [RunningJob(jobID: job.id, attempt: run.attempt)])
        let out = try h.dispatcher.accept(
            identity: Array("evil".utf8), hello: hijack, principal: WorkerPrincipal(kind: .private, ownerID: h.alice.id), now: h.now)
        #expect(out.commands(to: "evil") == [.reject])
        #expect(try out[0].message.decode(Reject.self).code == Reject.workerIDTaken)
        let forged = try h.send("evil", .result, JobOutcome(jobID: job.id, attempt: run.attempt, status: .succeeded, result: "forged"))
        #expect(forged.commands(to: "evil") == [.reject])
        #expect(try h.store.job(id: job.id)?.status == .running)
        #expect(h.dispatcher.connectedWorkers.map(\.name) == ["cloud"])
    }

    @Test func jobsNoWorkerCanTakeDoNotStarveTheRest() throws {
        let h = try DispatcherHarness()
        for _ in 0..<600 { _ = try h.submit(labels: ["nobody-has-this"]) }
        let runnable = try h.submit()
        let out = try h.connect("plain", slots: 1)
        #expect(try out.jobs(to: "plain").map(\.jobID) == [runnable.id])
    }

    @Test func aJobNeverStartsBeforeItWasCreatedNorEndsBeforeItStarted() throws {
        // A loop iteration's time is taken when it begins; a job submitted while it ran was
        // created after that time.
        let h = try DispatcherHarness()
        let job = try h.submit()
        let iterationBegan = h.now - 0.015
        let out = try h.dispatcher.accept(
            identity: Array("w".utf8), hello: Hello(workerID: "id-w", name: "w", version: "t", slots: 1, labels: [], runtimes: ["python3"], kind: .cloud,
                                                    credential: WorkerCredential(), running: []),
            principal: WorkerPrincipal(kind: .cloud, ownerID: nil, credential: nil), now: iterationBegan)
            + h.dispatcher.commit(now: iterationBegan)
        let run = try #require(try out.jobs(to: "w").first)
        let started = try #require(try h.store.job(id: job.id))
        #expect(try #require(started.startedAt) >= started.createdAt, "\(started.startedAt!) < \(started.createdAt)")
        _ = try h.dispatcher.receive(
            identity: Array("w".utf8), message: BusMessage(.result, JobOutcome(jobID: run.jobID, attempt: run.attempt, status: .succeeded, result: 1)),
            now: iterationBegan - 0.01)
        _ = h.dispatcher.commit(now: iterationBegan - 0.01)
        let finished = try #require(try h.store.job(id: job.id))
        #expect(finished.status == .succeeded)
        #expect(try #require(finished.finishedAt) >= started.startedAt!)
    }

    @Test func resultsOfOneIterationAreRecordedAndTheirSlotsRefilledByOneCommit() throws {
        let h = try DispatcherHarness()
        for _ in 0..<6 { _ = try h.submit() }
        let first = try h.connect("a", slots: 3).jobs(to: "a")
        #expect(first.count == 3)
        for run in first {
            let out = try h.dispatcher.receive(
                identity: Array("a".utf8), message: BusMessage(.result, JobOutcome(jobID: run.jobID, attempt: run.attempt, status: .succeeded, result: 1)),
                now: h.now)
            #expect(out.isEmpty, "nothing is recorded or sent before the commit")
            #expect(try h.store.job(id: run.jobID)?.status == .running)
        }
        let next = try h.dispatcher.commit(now: h.now).jobs(to: "a")
        #expect(next.count == 3 && Set(next.map(\.jobID)).isDisjoint(with: first.map(\.jobID)))
        for run in first { #expect(try h.store.job(id: run.jobID)?.status == .succeeded) }
        for run in next { #expect(try h.store.job(id: run.jobID)?.status == .running) }
        #expect(Set(h.recorder.ids.withLock { $0 }) == Set(first.map(\.jobID)))
    }

    @Test func aCommitTheStoreRefusesLosesNothingAndIsRetried() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let waiting = try h.submit()
        let run = try h.connect("a", slots: 1).jobs(to: "a")[0]
        #expect(run.jobID == job.id)
        // A real failure of the write transaction: every update of a job is refused.
        try (h.store as! SQLiteStore).writer.write { db in
            try db.execute(sql: "CREATE TRIGGER refuse BEFORE UPDATE ON jobs BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
        }
        let refused = try h.send("a", .result, JobOutcome(jobID: job.id, attempt: run.attempt, status: .succeeded, result: 1))
        #expect(refused.allJobs.isEmpty, "no job goes out whose assignment is not durable")
        #expect(try h.store.job(id: job.id)?.status == .running)
        #expect(try h.store.job(id: waiting.id)?.status == .queued)
        #expect(h.dispatcher.connectedWorkers.first?.running == [job.id: run.attempt], "the run is still held, under its deadline")
        #expect(h.dispatcher.queuedCount == 1, "the job chosen for the slot is back in the queue")

        try (h.store as! SQLiteStore).writer.write { db in try db.execute(sql: "DROP TRIGGER refuse") }
        // The worker sends its result again after a reconnect; the retried commit assigns the waiting job.
        let retried = try h.send("a", .result, JobOutcome(jobID: job.id, attempt: run.attempt, status: .succeeded, result: 1))
        #expect(try retried.jobs(to: "a").map(\.jobID) == [waiting.id])
        #expect(try h.store.job(id: job.id)?.status == .succeeded)
    }

    @Test func aJobCancelledBeforeTheBusHeardOfItIsSkippedAndTheSlotRefilled() throws {
        let h = try DispatcherHarness()
        let cancelled = try h.submit()
        let next = try h.submit()
        _ = try h.store.cancel(jobID: cancelled.id)
        let out = try h.connect("a", slots: 1)
        #expect(out.allJobs.isEmpty, "the conditional assignment failed: nothing sent")
        #expect(h.dispatcher.hasBacklog, "the bus commits again at once")
        #expect(try h.dispatcher.commit(now: h.now).jobs(to: "a").map(\.jobID) == [next.id])
        #expect(try h.store.job(id: cancelled.id)?.status == .cancelled)
    }

    @Test func aDequeuedJobIsNeverChosen() throws {
        let h = try DispatcherHarness()
        let cancelled = try h.submit()
        let next = try h.submit()
        _ = try h.store.cancel(jobID: cancelled.id)
        h.dispatcher.dequeue(jobID: cancelled.id)
        #expect(try h.connect("a", slots: 1).jobs(to: "a").map(\.jobID) == [next.id])
    }

    @Test func theQueueIsReadBackAfterARestart() throws {
        let h = try DispatcherHarness()
        let low = try h.submit()
        let urgent = try h.store.submit(Job(
            projectID: h.project.id, code: "", inputs: [:], target: .cloud, priority: 5, submittedBy: h.alice.id, createdAt: h.now + 1)).job
        let restarted = try Dispatcher(store: h.store, settings: Dispatcher.Settings(), logger: Logger(label: "test"), now: h.now) { _ in }
        #expect(restarted.queuedCount == 2)
        let hello = Hello(
            workerID: "id-a", name: "a", version: "t", slots: 2, labels: [], runtimes: [], kind: .cloud,
            credential: WorkerCredential(), running: [])
        let out = try restarted.accept(identity: Array("a".utf8), hello: hello, principal: WorkerPrincipal(kind: .cloud, ownerID: nil), now: h.now)
            + restarted.commit(now: h.now)
        #expect(try out.jobs(to: "a").map(\.jobID) == [urgent.id, low.id])
        #expect(try h.store.worker(id: "id-a")?.online == true, "the commit recorded the worker")
    }

    @Test func noWorkerIsCalledSilentWhileTheBusIsBehindOnItsInput() throws {
        let h = try DispatcherHarness()
        try h.connect("a")
        h.now += 10
        _ = try h.dispatcher.tick(now: h.now, inputDrained: false)
        #expect(h.dispatcher.connectedWorkers.map(\.name) == ["a"], "its heartbeats may be waiting unread")
        _ = try h.dispatcher.tick(now: h.now + 1, inputDrained: true)
        #expect(h.dispatcher.connectedWorkers.isEmpty)
        #expect(try h.store.worker(id: "id-a")?.online == false)
    }

    @Test func aWorkerGoneBeforeItsRecordWasCommittedStaysOffline() throws {
        let h = try DispatcherHarness()
        let hello = Hello(
            workerID: "id-b", name: "b", version: "t", slots: 1, labels: [], runtimes: [], kind: .cloud,
            credential: WorkerCredential(), running: [])
        _ = try h.dispatcher.accept(identity: Array("b".utf8), hello: hello, principal: WorkerPrincipal(kind: .cloud, ownerID: nil), now: h.now)
        _ = try h.dispatcher.receive(identity: Array("b".utf8), message: BusMessage(.bye, EmptyBody()), now: h.now)
        _ = h.dispatcher.commit(now: h.now)
        #expect(try h.store.worker(id: "id-b")?.online != true)
    }

    @Test func aRunThatNeverReportsTimesOutOnTheServer() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let run = try h.connect("mute", slots: 1).jobs(to: "mute")[0]
        let limit = run.limits.timeoutSeconds
        _ = try h.send("mute", .heartbeat, EmptyBody())
        h.now += limit + 1
        _ = try h.send("mute", .heartbeat, EmptyBody())
        #expect(try h.dispatcher.tick(now: h.now).commands(to: "mute").contains(.cancel) == false, "still within the grace period")
        h.now += 60
        _ = try h.send("mute", .heartbeat, EmptyBody())
        let out = try h.dispatcher.tick(now: h.now)
        #expect(out.commands(to: "mute").contains(.cancel))
        let expired = try #require(try h.store.job(id: job.id))
        #expect(expired.status == .timedOut && expired.error?.hasPrefix("timed_out") == true)
        #expect(h.recorder.ids.withLock { $0 } == [job.id])
    }

    @Test func heartbeatsGoToEveryWorker() throws {
        let h = try DispatcherHarness()
        try h.connect("a")
        try h.connect("b")
        let out = try h.dispatcher.tick(now: h.now + 1)
        #expect(Set(out.filter { $0.message.command == .heartbeat }.map(\.identity)) == [Array("a".utf8), Array("b".utf8)])
    }

    @Test func heartbeatIntervalsGrowWithTheFleet() {
        var settings = Dispatcher.Settings()
        settings.heartbeatInterval = 1
        #expect([1, 4000, 4001, 8000, 10_000].map { settings.heartbeatInterval(forFleetOf: $0) } == [1, 1, 2, 2, 3])
        settings.heartbeatInterval = 0.5
        #expect(settings.heartbeatInterval(forFleetOf: 10_000) == 2.5, "whole base intervals")
        settings.maxHeartbeatsPerSecond = 0
        #expect(settings.heartbeatInterval(forFleetOf: 1_000_000) == 0.5, "0 never lengthens it")
    }

    @Test func aLargeFleetGetsLongerHeartbeatsAndIsJudgedByThem() throws {
        // At most 2 heartbeats a second: the third worker joins a fleet of 3 and gets 2 s.
        let h = try DispatcherHarness(maxHeartbeatsPerSecond: 2)
        let welcomes = try ["a", "b", "c"].map { name in
            try #require(try h.connect(name).first { $0.message.command == .welcome }?.message.decode(Welcome.self))
        }
        #expect(welcomes.map(\.heartbeatMS) == [1000, 1000, 2000])
        // The first heartbeats tell a and b that the fleet's interval is now 2 s; from then
        // on every worker gets one every other second.
        let first = try h.dispatcher.tick(now: h.now + 1).filter { $0.message.command == .heartbeat }
        #expect(Set(first.map { String(decoding: $0.identity, as: UTF8.self) }) == ["a", "b"])
        #expect(try first.map { try $0.message.decode(ServerHeartbeat.self) } == [ServerHeartbeat(heartbeatMS: 2000), ServerHeartbeat(heartbeatMS: 2000)])
        var beats: [String: Int] = [:]
        for second in 2...5 {
            for out in try h.dispatcher.tick(now: h.now + Double(second)) where out.message.command == .heartbeat {
                beats[String(decoding: out.identity, as: UTF8.self), default: 0] += 1
            }
        }
        #expect(beats == ["a": 2, "b": 2, "c": 2])
        // Each is judged by 2 s × 5: silent for 9 s they stay, for 11 s they go.
        _ = try h.dispatcher.tick(now: h.now + 9)
        #expect(h.dispatcher.connectedWorkers.count == 3)
        _ = try h.dispatcher.tick(now: h.now + 11)
        #expect(h.dispatcher.connectedWorkers.isEmpty)
    }

    @Test func theRestartGraceIsOneDeadPeerTimeoutOfThePreviousFleet() throws {
        let h = try DispatcherHarness()
        let orphan = try h.submit()
        _ = try h.store.assign(jobID: orphan.id, workerID: "id-gone", workerName: "gone")
        // The previous run had 3 workers online at 2 heartbeats a second: 2 s intervals, so its
        // workers may take 10 s to say they are back.
        var settings = Dispatcher.Settings()
        settings.maxHeartbeatsPerSecond = 2
        let restarted = try Dispatcher(store: h.store, settings: settings, logger: Logger(label: "test"), now: h.now, workersOnlineBefore: 3) { _ in }
        _ = try restarted.tick(now: h.now + 6)
        #expect(try h.store.job(id: orphan.id)?.status == .running, "still within the grace period")
        _ = try restarted.tick(now: h.now + 10.5)
        #expect(try h.store.job(id: orphan.id)?.status == .queued)
    }

    @Test func undeliverableJobsAreRequeuedWithoutCountingAnAttempt() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let other = try h.submit()
        let out = try h.connect("a", slots: 2)
        _ = try h.dispatcher.undeliverable(try out.jobs(to: "a"), to: Array("a".utf8), now: h.now)
        for id in [job.id, other.id] {
            let stored = try #require(try h.store.job(id: id))
            #expect(stored.status == .queued && stored.attempts == 0)
        }
        #expect(h.dispatcher.connectedWorkers.isEmpty)
    }
}

/// The queue as a cache of a store several servers share: what the notifications tell it.
@Suite struct SharedQueueTests {
    @Test func anEnqueueThatArrivesAfterTheJobWasTakenElsewhereLeavesNothingBehind() throws {
        let h = try DispatcherHarness()
        let job = try h.store.submit(Job(projectID: h.project.id, code: "pass", inputs: [:], target: .cloud, submittedBy: h.alice.id)).job
        // Queued and taken by another server, both heard before this server's own API enqueue.
        _ = h.dispatcher.heardQueued(QueuedJob(job), attempts: 0)
        h.dispatcher.heardDequeued(jobID: job.id)
        h.dispatcher.enqueue([QueuedJob(job)])
        #expect(h.dispatcher.queuedCount == 0, "the late enqueue is dropped, not left in the index")
        // A later, real requeue of the same job still enters it.
        _ = h.dispatcher.heardQueued(QueuedJob(job), attempts: 1)
        #expect(h.dispatcher.queuedCount == 1)
    }

    @Test func theAPIsEnqueueOfAJobAlreadyRunningHereLeavesTheRunAlone() throws {
        let h = try DispatcherHarness()
        let job = try h.store.submit(Job(projectID: h.project.id, code: "pass", inputs: [:], target: .cloud, submittedBy: h.alice.id)).job
        // The notification came first and the job was assigned from it; the API's own enqueue comes late.
        _ = h.dispatcher.heardQueued(QueuedJob(job), attempts: 0)
        let run = try h.connect("a", slots: 2).jobs(to: "a")[0]
        #expect(run.jobID == job.id && run.attempt == 1)
        h.dispatcher.enqueue([QueuedJob(job)])
        #expect(h.dispatcher.commit(now: h.now).allJobs.isEmpty, "no second claim")
        #expect(h.dispatcher.connectedWorkers.first?.running == [job.id: 1], "the run is still held")
        #expect(h.dispatcher.queuedCount == 0)
    }

    @Test func newsOfAQueuedJobOlderThanTheRunHereIsIgnoredAndNewerNewsStopsTheRun() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let run = try h.connect("a", slots: 1).jobs(to: "a")[0]
        #expect(run.attempt == 1)
        // The submit's own notification, heard after the assignment: stale.
        #expect(h.dispatcher.heardQueued(QueuedJob(job), attempts: 0).isEmpty)
        #expect(h.dispatcher.connectedWorkers.first?.running == [job.id: 1])
        // Requeued elsewhere with that attempt counted (its lease ran out): the run here stops.
        let out = h.dispatcher.heardQueued(QueuedJob(job), attempts: 1)
        #expect(out.map(\.message.command) == [.cancel])
        #expect(h.dispatcher.connectedWorkers.first?.running.isEmpty == true)
    }
}
