@testable import AgentOSStore
import AgentOSTestSupport
import AgentOSWire
import Foundation
import GRDB
import Testing

/// A store of `engine` with an admin and their project `default`.
func fixture(_ engine: StoreEngine) async throws -> (store: any AppStore, owner: User, project: Project) {
    let store = try await engine.makeStore()
    let owner = try store.createUser(User(email: "Owner@Example.com", name: "Owner", passwordHash: "x", role: .admin))
    return (store, owner, try store.createProject(name: "default", owner: owner.id))
}

@Suite struct AppStoreTests {
    @Test(arguments: StoreEngine.allCases) func markingWorkersOfflineCountsThoseThatWereOnline(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        for (index, online) in [true, true, false].enumerated() {
            try store.workerConnected(WorkerRecord(
                id: "w\(index)", name: "w\(index)", kind: .cloud, ownerID: nil, labels: [], slots: 1, version: "t",
                online: online, connectedAt: Date(), lastSeenAt: Date()))
        }
        #expect(try store.markAllWorkersOffline() == 2, "the restart grace period is sized by these")
        #expect(try store.worker(id: "w0")?.online == false)
        #expect(try store.markAllWorkersOffline() == 0)
    }

    @Test(arguments: StoreEngine.allCases) func emailsAreUniqueIgnoringCase(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        #expect(try store.user(email: "owner@example.com")?.id == owner.id)
        #expect(throws: StoreError.self) {
            try store.createUser(User(email: "OWNER@example.com", name: "Again", passwordHash: "x", role: .user))
        }
    }

    @Test(arguments: StoreEngine.allCases) func projectCreatorIsOwnerAndNamesAreUnique(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        #expect(try store.role(of: owner.id, in: project.id) == .owner)
        #expect(try store.project(idOrName: "default")?.id == project.id)
        #expect(try store.project(idOrName: project.id)?.name == "default")
        #expect(throws: StoreError.conflict("a project named default already exists (names are compared ignoring case)")) {
            try store.createProject(name: "default", owner: owner.id)
        }
        #expect(throws: StoreError.conflict("a project named DEFAULT already exists (names are compared ignoring case)")) {
            try store.createProject(name: "DEFAULT", owner: owner.id)
        }
    }

    @Test(arguments: StoreEngine.allCases) func jobRoundTripsInputsAndResultOfAnyShape(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let inputs: [String: JSONValue] = ["n": 3, "s": "x", "list": [1, "two", nil], "obj": ["k": true]]
        let (job, created) = try store.submit(Job(projectID: project.id, code: "pass", inputs: inputs, target: .cloud, submittedBy: owner.id))
        #expect(created)
        #expect(try store.job(id: job.id)?.inputs == inputs)
        for result: JSONValue in ["plain string", 42, ["a": [1, 2]], nil] {
            let run = try store.submit(Job(projectID: project.id, code: "pass", inputs: [:], target: .cloud, submittedBy: owner.id)).job
            _ = try #require(try store.assign(jobID: run.id, workerID: "w", workerName: "w"))
            _ = try #require(try store.finish(JobOutcome(jobID: run.id, attempt: 1, status: .succeeded, result: result), workerID: "w"))
            #expect(try store.job(id: run.id)?.result == result)
        }
        #expect(try store.job(id: job.id)?.inputs == inputs)
    }

    @Test(arguments: StoreEngine.allCases) func aJobsFoldersAreStoredAndAssignedWithIt(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let job = try store.submit(Job(
            projectID: project.id, code: "pass", inputs: [:], target: .private, submittedBy: owner.id, dirs: ["photos", "out"])).job
        #expect(try store.job(id: job.id)?.dirs == ["photos", "out"])
        let batch = try store.commitBusBatch(results: [], assignments: [Assignment(jobID: job.id, workerID: "w", workerName: "w")])
        #expect(try #require(batch.assigned.first ?? nil).dirs == ["photos", "out"])
    }

    @Test(arguments: StoreEngine.allCases) func aBatchCountsEachResultAsOneByOneWouldAndAssignsWithFiles(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let job = try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, submittedBy: owner.id)).job
        _ = try store.assign(jobID: job.id, workerID: "w1", workerName: "one")
        _ = try store.loseJob(jobID: job.id, attempt: 1)
        _ = try store.assign(jobID: job.id, workerID: "w2", workerName: "two")
        let file = try store.createFile(StoredFile(
            projectID: project.id, name: "b.txt", sha256: String(repeating: "a", count: 64), size: 1, contentType: "text/plain",
            createdBy: owner.id))
        let withFile = Job(projectID: project.id, code: "y", inputs: [:], target: .cloud, submittedBy: owner.id)
        _ = try store.submit(withFile, files: [JobFile(jobID: withFile.id, fileID: file.id, name: "b.txt", sha256: file.sha256, size: 1)])
        let queued = try store.submit(Job(projectID: project.id, code: "z", inputs: ["n": 2], target: .cloud, submittedBy: owner.id)).job
        let stale = JobOutcome(jobID: job.id, attempt: 1, status: .succeeded, result: "stale")
        let valid = JobOutcome(jobID: job.id, attempt: 2, status: .succeeded, result: ["ok": true], stdout: "out", exitCode: 0)
        let batch = try store.commitBusBatch(
            results: [(stale, "w1"), (valid, "w2"), (valid, "w2")],
            assignments: [
                Assignment(jobID: queued.id, workerID: "w3", workerName: "three"), Assignment(jobID: "missing", workerID: "w3", workerName: "three"),
                Assignment(jobID: withFile.id, workerID: "w3", workerName: "three"),
            ],
            connected: [], lease: nil, at: Date())
        #expect(batch.finished == [nil, FinishedJob(id: job.id, status: .succeeded), nil], "stale, counted, duplicate")
        let ended = try #require(try store.job(id: job.id))
        #expect(ended.result == ["ok": true] && ended.stdout == "out" && ended.exitCode == 0 && ended.error == nil)
        #expect(batch.assigned.count == 3 && batch.assigned[1] == nil, "a job not in the queue is not assigned")
        let assigned = try #require(batch.assigned[0])
        #expect(assigned.attempt == 1 && assigned.inputs == ["n": 2] && assigned.code == "z" && assigned.files.isEmpty)
        #expect(try #require(batch.assigned[2]).files.map(\.fileID) == [file.id], "its files come with it")
        #expect(try store.job(id: queued.id)?.workerName == "three")
    }

    @Test(arguments: StoreEngine.allCases) func aGroupOfSubmitsCommitsAllButTheOneThatFails(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        func job(_ code: String, project: String) -> Job {
            Job(projectID: project, code: code, inputs: [:], target: .cloud, submittedBy: owner.id)
        }
        let together = try await store.submitAll([job("a", project: project.id), job("b", project: project.id)].map { ($0, []) })
        #expect(together.allSatisfy { (try? $0.get().created) == true })
        let mixed = try await store.submitAll([job("c", project: project.id), job("d", project: "no-such-project"), job("e", project: project.id)].map { ($0, []) })
        #expect((try? mixed[0].get().created) == true && (try? mixed[2].get().created) == true)
        #expect((try? mixed[1].get()) == nil, "the job of a project that does not exist fails alone")
        let codes = try store.jobs(projectID: project.id, status: nil, origin: nil, after: nil, limit: 10).map(\.code).sorted()
        #expect(codes == ["a", "b", "c", "e"])
    }

    @Test func jobsStoredBeforeFoldersExistedHaveNone() throws {
        let queue = try DatabaseQueue()
        try SQLiteStore.migrator.migrate(queue, upTo: "v5-bus-keys")
        try queue.write { db in
            let now = Date()
            try db.execute(sql: "INSERT INTO users (id, email, name, password_hash, role, created_at) VALUES ('u', 'u@x', 'U', 'x', 'user', ?)", arguments: [now])
            try db.execute(sql: "INSERT INTO projects (id, name, created_by, created_at) VALUES ('p', 'p', 'u', ?)", arguments: [now])
            try db.execute(sql: """
                INSERT INTO jobs (id, project_id, status, origin, code, inputs, target, labels, timeout_s, max_output_bytes, priority,
                    max_attempts, attempts, submitted_by, created_at, queued_at, stdout, stderr, output_truncated)
                VALUES ('j', 'p', 'queued', 'server', 'pass', '{}', 'private', '[]', 60, 1024, 0, 3, 0, 'u', ?, ?, '', '', 0)
                """, arguments: [now, now])
        }
        let store = try SQLiteStore(writer: queue)
        #expect(try store.job(id: "j")?.dirs == [])
        let batch = try store.commitBusBatch(results: [], assignments: [Assignment(jobID: "j", workerID: "w", workerName: "w")])
        #expect(try #require(batch.assigned.first ?? nil).dirs == [])
    }

    @Test(arguments: StoreEngine.allCases) func idempotencyKeyReturnsTheFirstJob(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let first = try store.submit(Job(projectID: project.id, code: "a", inputs: [:], target: .cloud, submittedBy: owner.id, idempotencyKey: "k1"))
        let second = try store.submit(Job(projectID: project.id, code: "b", inputs: [:], target: .cloud, submittedBy: owner.id, idempotencyKey: "k1"))
        #expect(first.created && !second.created)
        #expect(second.job.id == first.job.id && second.job.code == "a")
    }

    @Test(arguments: StoreEngine.allCases) func assignCountsAttemptsAndOnlyOnce(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let job = try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, submittedBy: owner.id)).job
        let assigned = try #require(try store.assign(jobID: job.id, workerID: "w1", workerName: "one"))
        #expect(assigned.status == .running && assigned.attempts == 1 && assigned.workerName == "one")
        #expect(try store.assign(jobID: job.id, workerID: "w2", workerName: "two") == nil)
    }

    @Test(arguments: StoreEngine.allCases) func finishIgnoresStaleAttemptsAndOtherWorkers(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let job = try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, submittedBy: owner.id)).job
        _ = try store.assign(jobID: job.id, workerID: "w1", workerName: "one")
        _ = try store.loseJob(jobID: job.id, attempt: 1)
        _ = try store.assign(jobID: job.id, workerID: "w2", workerName: "two")
        let stale = JobOutcome(jobID: job.id, attempt: 1, status: .succeeded, result: 1)
        #expect(try store.finish(stale, workerID: "w1") == nil)
        let wrongWorker = JobOutcome(jobID: job.id, attempt: 2, status: .succeeded, result: 2)
        #expect(try store.finish(wrongWorker, workerID: "w1") == nil)
        let finished = try #require(try store.finish(wrongWorker, workerID: "w2"))
        #expect(finished.status == .succeeded && finished.result == 2)
        #expect(try store.finish(wrongWorker, workerID: "w2") == nil, "a duplicate result changes nothing")
    }

    @Test(arguments: StoreEngine.allCases) func losingAJobRequeuesUntilMaxAttemptsThenFails(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let job = try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, maxAttempts: 2, submittedBy: owner.id)).job
        _ = try store.assign(jobID: job.id, workerID: "w", workerName: "w")
        #expect(try store.loseJob(jobID: job.id, attempt: 1)?.status == .queued)
        _ = try store.assign(jobID: job.id, workerID: "w", workerName: "w")
        let failed = try #require(try store.loseJob(jobID: job.id, attempt: 2))
        #expect(failed.status == .failed && failed.error == "worker_lost" && failed.attempts == 2)
    }

    @Test(arguments: StoreEngine.allCases) func releaseDoesNotCountAnAttempt(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let job = try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, submittedBy: owner.id)).job
        _ = try store.assign(jobID: job.id, workerID: "w", workerName: "w")
        let released = try #require(try store.release(jobID: job.id, attempt: 1, workerID: "w"))
        #expect(released.status == .queued && released.attempts == 0 && released.workerID == nil)
    }

    @Test(arguments: StoreEngine.allCases) func unclaimedJobsExpire(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let base = Date(timeIntervalSince1970: 2_000_000)
        let old = try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, submittedBy: owner.id, createdAt: base)).job
        let fresh = try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, submittedBy: owner.id, createdAt: base + 100)).job
        let expired = try store.failUnclaimed(queuedBefore: base + 50)
        #expect(expired.map(\.id) == [old.id])
        #expect(try store.job(id: old.id)?.error == "no_eligible_worker")
        #expect(try store.job(id: fresh.id)?.status == .queued)
    }

    @Test(arguments: StoreEngine.allCases) func queueTimeCountsFromTheLastRequeueNotTheSubmit(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let base = Date(timeIntervalSince1970: 3_000_000)
        let job = try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, submittedBy: owner.id, createdAt: base)).job
        _ = try store.assign(jobID: job.id, workerID: "w", workerName: "w", at: base + 10)
        _ = try store.loseJob(jobID: job.id, attempt: 1, at: base + 100)
        #expect(try store.failUnclaimed(queuedBefore: base + 50).isEmpty, "it has waited only since its worker was lost")
        #expect(try store.job(id: job.id)?.queuedAt == base + 100)
    }

    @Test func databaseOnDiskUsesWAL() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-store-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let disk = try SQLiteStore.open(path: directory.appendingPathComponent("db.sqlite").path)
        let mode = try disk.writer.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }
}

@Suite struct QueueFilterTests {
    @Test func theQueueSweepAndAWorkersRunsUseTheirPartialIndexes() throws {
        let store = try SQLiteStore.inMemory()
        func plan(_ sql: String) throws -> String {
            try store.writer.read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: "; ") }
        }
        #expect(try plan("SELECT * FROM jobs WHERE status = 'queued' AND queued_at < 0").contains("jobs_queued"))
        #expect(try plan("SELECT * FROM jobs WHERE worker_id = 'w' AND status = 'running'").contains("jobs_running"))
        #expect(try plan("SELECT id FROM jobs WHERE status = 'queued'").contains("jobs_queued"))
    }

    @Test(arguments: StoreEngine.allCases) func queuedJobSummariesCarryPlacementsOfQueuedJobsOnly(_ engine: StoreEngine) async throws {
        let store = try await engine.makeStore()
        let alice = try store.createUser(User(email: "a@x", name: "A", passwordHash: "x", role: .user))
        let project = try store.createProject(name: "p", owner: alice.id)
        let created = Date(timeIntervalSince1970: 1_000_000)
        let cloud = try store.submit(Job(
            projectID: project.id, code: "x = 1", inputs: ["a": 1], target: .cloud, requestedWorker: "w1", labels: ["gpu", "eu"],
            priority: 3, submittedBy: alice.id, createdAt: created)).job
        let mine = try store.submit(Job(projectID: project.id, code: "", inputs: [:], target: .private, submittedBy: alice.id, createdAt: created)).job
        let taken = try store.submit(Job(projectID: project.id, code: "", inputs: [:], target: .cloud, submittedBy: alice.id)).job
        _ = try #require(try store.assign(jobID: taken.id, workerID: "w", workerName: "w"))

        let summaries = Dictionary(uniqueKeysWithValues: try store.queuedJobSummaries().map { ($0.id, $0) })
        #expect(Set(summaries.keys) == [cloud.id, mine.id])
        #expect(summaries[cloud.id] == QueuedJob(cloud))
        #expect(summaries[cloud.id]?.placement == QueuedJob.Placement(target: .cloud, owner: nil, requestedWorker: "w1", labels: ["eu", "gpu"]))
        #expect(summaries[cloud.id]?.priority == 3 && summaries[cloud.id]?.createdAt == created)
        #expect(summaries[mine.id]?.placement.owner == alice.id, "a private job's placement names its owner")
    }
}

@Suite struct JobHistoryTests {
    @Test(arguments: StoreEngine.allCases) func pagesVisitEveryJobOnceEvenWithEqualTimestamps(_ engine: StoreEngine) async throws {
        let store = try await engine.makeStore()
        let user = try store.createUser(User(email: "a@x", name: "A", passwordHash: "x", role: .user))
        let project = try store.createProject(name: "p", owner: user.id)
        let instant = Date(timeIntervalSince1970: 1_700_000_000.1234)
        var ids: Set<String> = []
        for _ in 0..<5 {
            ids.insert(try store.submit(Job(projectID: project.id, code: "", inputs: [:], target: .cloud, submittedBy: user.id, createdAt: instant)).job.id)
        }
        var seen: [String] = []
        var after: String?
        repeat {
            let page = try store.jobs(projectID: project.id, status: nil, origin: nil, after: after, limit: 2)
            seen += page.map(\.id)
            after = page.count == 2 ? page.last?.id : nil
        } while after != nil
        #expect(seen.count == 5 && Set(seen) == ids)
    }
}

@Suite struct BusPeerTests {
    @Test(arguments: StoreEngine.allCases) func onlyLiveCredentialsOfEnabledUsersAreBusPeers(_ engine: StoreEngine) async throws {
        let store = try await engine.makeStore()
        let user = try store.createUser(User(email: "a@example.com", name: "A", passwordHash: "x", role: .user))
        let worker = try store.createWorkerToken(WorkerToken(name: "w", tokenHash: "h1", curveKey: "worker-key"))
        let personal = try store.createPersonalToken(PersonalToken(
            userID: user.id, name: "p", tokenHash: "h2", prefix: "aos_pat_x", curveKey: "personal-key", expiresAt: nil))
        let expired = try store.createPersonalToken(PersonalToken(
            userID: user.id, name: "old", tokenHash: "h3", prefix: "aos_pat_y", curveKey: "expired-key", expiresAt: Date().addingTimeInterval(-1)))
        #expect(try store.busPeer(curveKey: "worker-key") == .workerToken(id: worker.id))
        #expect(try store.busPeer(curveKey: "personal-key") == .personalToken(id: personal.id, userID: user.id))
        #expect(try store.busPeer(curveKey: "expired-key") == nil, "\(expired.id)")
        #expect(try store.busPeer(curveKey: "nobody") == nil)

        _ = try store.revokeWorkerToken(id: worker.id)
        #expect(try store.busPeer(curveKey: "worker-key") == nil)
        _ = try store.updateUser(id: user.id) { $0.disabled = true }
        #expect(try store.busPeer(curveKey: "personal-key") == nil)
    }

    @Test(arguments: StoreEngine.allCases) func aTokenWithoutAKeyGetsOneOnceAndKeepsIt(_ engine: StoreEngine) async throws {
        let store = try await engine.makeStore()
        _ = try store.createWorkerToken(WorkerToken(name: "old", tokenHash: "h1"))
        try store.setWorkerTokenCurveKey(hash: "h1", curveKey: "k1")
        try store.setWorkerTokenCurveKey(hash: "h1", curveKey: "k2")
        #expect(try store.busPeer(curveKey: "k1") != nil && store.busPeer(curveKey: "k2") == nil)
    }
}

/// Leases on a shared store (ARCHITECTURE §5.1), on both engines. Leases already over are
/// made with a negative length, so nothing here waits on a clock.
@Suite struct LeaseTests {
    func server(_ id: String) -> ServerRecord {
        ServerRecord(id: id, busEndpoint: "tcp://\(id):5555", apiEndpoint: "tcp://\(id):5556", startedAt: Date(), heartbeatAt: Date())
    }

    func assign(_ store: any AppStore, _ job: Job, worker: String = "w", lease: JobLease) throws {
        let batch = try store.commitBusBatch(
            results: [], assignments: [Assignment(jobID: job.id, workerID: worker, workerName: worker)], connected: [], lease: lease, at: Date())
        try #require(batch.assigned.first ?? nil)
    }

    @Test(arguments: StoreEngine.allCases) func expiredLeasesAreReapedOnceAndLiveOnesKept(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        func submit(maxAttempts: Int = 3) throws -> Job {
            try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, maxAttempts: maxAttempts, submittedBy: owner.id)).job
        }
        let live = try submit(), dead = try submit(), last = try submit(maxAttempts: 1)
        try assign(store, live, lease: JobLease(serverID: "a", seconds: 3600))
        try assign(store, dead, lease: JobLease(serverID: "b", seconds: -1))
        try assign(store, last, lease: JobLease(serverID: "b", seconds: -1))

        let reaped = Dictionary(uniqueKeysWithValues: try store.reapExpiredLeases(at: Date()).map { ($0.id, $0) })
        #expect(Set(reaped.keys) == [dead.id, last.id])
        #expect(reaped[dead.id]?.status == .queued && reaped[dead.id]?.workerID == nil && reaped[dead.id]?.attempts == 1)
        #expect(reaped[last.id]?.status == .failed && reaped[last.id]?.error == "worker_lost", "out of attempts")
        #expect(try store.reapExpiredLeases(at: Date()).isEmpty, "each is reaped once")
        #expect(try store.job(id: live.id)?.status == .running)
        // The requeued attempt's result is fenced off.
        #expect(try store.finish(JobOutcome(jobID: dead.id, attempt: 1, status: .succeeded, result: 1), workerID: "w") == nil)
    }

    @Test(arguments: StoreEngine.allCases) func aHeartbeatRenewsItsServersLeasesAndListsIt(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let job = try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, submittedBy: owner.id)).job
        let orphan = try store.submit(Job(projectID: project.id, code: "y", inputs: [:], target: .cloud, submittedBy: owner.id)).job
        try assign(store, job, lease: JobLease(serverID: "a", seconds: -1))
        try assign(store, orphan, lease: JobLease(serverID: "a", seconds: -1))
        try store.heartbeat(server: server("a"), lease: JobLease(serverID: "a", seconds: 3600), holding: [job.id], at: Date())
        #expect(try store.reapExpiredLeases(at: Date()).map(\.id) == [orphan.id], "the held job renewed, the one the server lost track of reaped")
        #expect(try store.servers(heardWithin: 60, at: Date()).map(\.id) == ["a"])
        #expect(try store.servers(heardWithin: 60, at: Date()).first?.busEndpoint == "tcp://a:5555")
    }

    @Test(arguments: StoreEngine.allCases) func aRunIsAdoptedOnlyForItsAttemptOnItsWorker(_ engine: StoreEngine) async throws {
        let (store, owner, project) = try await fixture(engine)
        let job = try store.submit(Job(projectID: project.id, code: "x", inputs: [:], target: .cloud, submittedBy: owner.id)).job
        try assign(store, job, worker: "w", lease: JobLease(serverID: "a", seconds: -1))
        let b = JobLease(serverID: "b", seconds: 3600)
        #expect(try !store.adopt(jobID: job.id, attempt: 2, workerID: "w", lease: b, at: Date()), "another attempt")
        #expect(try !store.adopt(jobID: job.id, attempt: 1, workerID: "other", lease: b, at: Date()), "another worker")
        #expect(try store.adopt(jobID: job.id, attempt: 1, workerID: "w", lease: b, at: Date()))
        #expect(try store.reapExpiredLeases(at: Date()).isEmpty, "B's lease holds it now")
        #expect(try store.job(id: job.id)?.status == .running)
        #expect(try store.loseJob(jobID: job.id, attempt: 1, heldBy: "a", at: Date()) == nil, "A cannot lose what B holds")
        #expect(try store.expire(jobID: job.id, attempt: 1, heldBy: "a", at: Date()) == nil)
        #expect(try store.loseJob(jobID: job.id, attempt: 1, heldBy: "b", at: Date())?.status == .queued)
    }
}
