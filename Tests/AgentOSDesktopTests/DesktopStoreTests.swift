import AgentOSClient
@testable import AgentOSDesktop
import AgentOSAPI
import AgentOSWire
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The desktop's store and the outbox's records, without a server.
@Suite struct DesktopStoreTests {
    let account = Account(userID: "u1", gateway: "http://127.0.0.1:8080")

    func run(_ id: String, project: String = "p1", status: JobStatus = .succeeded, state: SyncState = .pending, process: String? = nil) -> LocalRun {
        LocalRun(
            id: id, account: account.key, projectID: project, projectName: project, skill: "greet", version: 1, inputs: "{}", folders: "[]",
            status: status.rawValue, result: "1", stdout: "", stderr: "", outputTruncated: false, exitCode: 0, error: nil, device: "test",
            process: process ?? ProcessIdentity.current, startedAt: Date(), finishedAt: Date(), syncState: state, syncAttempts: 0)
    }

    @Test func theDataDirectoryIsPrivateAndTheStoreSurvivesReopening() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-desktop-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let directory = DesktopDataDirectory(path: path)
        let store = try DesktopStore.open(directory)
        _ = try store.insert(run("r1"))
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o700)
        let again = try DesktopStore.open(directory)
        #expect(try again.pendingRuns(account: account, limit: 10).map(\.id) == ["r1"])
        #expect(DesktopDataDirectory(environment: ["XDG_DATA_HOME": "/x"]).path == "/x/agentos")
        #expect(DesktopDataDirectory(environment: ["HOME": "/home/a"]).path == "/home/a/.local/share/agentos")
    }

    @Test func theOutboxIsInOrderPerAccountAndBatchesOneProjectAtATime() throws {
        let store = try DesktopStore.inMemory()
        for (id, project) in [("a", "p1"), ("b", "p1"), ("c", "p2"), ("d", "p1")] { _ = try store.insert(run(id, project: project)) }
        _ = try store.insert(LocalRun(
            id: "other", account: "u2@http://x", projectID: "p1", projectName: "p1", skill: "s", version: 1, inputs: "{}", folders: "[]",
            status: "succeeded", stdout: "", stderr: "", outputTruncated: false, device: "d", process: "1:1", startedAt: Date(),
            syncState: .pending, syncAttempts: 0))
        _ = try store.insert(run("running", status: .running, state: .local))
        #expect(try store.pendingRuns(account: account, limit: 10).map(\.id) == ["a", "b", "c", "d"])
        let outbox = RunOutbox(store: store, client: GatewayClientStub.client, account: account, lockPath: nil)
        #expect(try outbox.nextBatch().map(\.id) == ["a", "b"], "stops at the first run of another project")
        try store.markSynced([("a", "j1"), ("b", "j2")])
        #expect(try outbox.nextBatch().map(\.id) == ["c"])
        try store.markRejected(["c"], reason: "gone")
        #expect(try outbox.nextBatch().map(\.id) == ["d"])
        #expect(try store.runCounts(account: account) == [.synced: 2, .rejected: 1, .pending: 1, .local: 1])
        #expect(try store.pendingElsewhere(account: account) == 1)
    }

    @Test func aRunLeftRunningByAGoneProcessIsInterruptedAndQueued() throws {
        let store = try DesktopStore.inMemory()
        _ = try store.insert(run("mine", status: .running, state: .local))
        // A pid that cannot be running with that start time.
        _ = try store.insert(run("gone", status: .running, state: .local, process: "\(getpid()):1"))
        #expect(try store.recoverInterrupted() == 1)
        let runs = try store.runs(account: account, limit: 10)
        let gone = try #require(runs.first { $0.id == "gone" })
        #expect(gone.jobStatus == .failed && gone.syncState == .pending && gone.error?.hasPrefix("interrupted") == true)
        #expect(runs.first { $0.id == "mine" }?.syncState == .local, "this process's own run still runs")
        #expect(ProcessIdentity.isAlive(ProcessIdentity.current))
        #expect(!ProcessIdentity.isAlive("999999999:1") && !ProcessIdentity.isAlive("junk"))
    }

    @Test func recordsTooLargeForTheAPIAreCutWithAFlagNeverDropped() throws {
        var big = run("big")
        big.stdout = String(repeating: "o", count: 7 << 20)
        big.stderr = String(repeating: "\u{1}", count: 1 << 20)
        big.result = JSONValue.object(["blob": .string(String(repeating: "r", count: 9 << 20))]).encodedString()
        big.error = String(repeating: "e", count: 10_000)
        let record = RunOutbox.record(big)
        #expect(record.outputTruncated == true)
        #expect(record.result == nil && record.error?.contains("too large to sync") == true)
        #expect((record.error?.utf8.count ?? 0) <= 4096)
        #expect((record.stdout?.utf8.count ?? 0) <= 4 << 20 && (record.stdout?.isEmpty == false))
        let encoded = try APICoding.encode(Schemas.RunsRequest(runs: [record]))
        #expect(encoded.count <= RunOutbox.maxRecordBytes + 16_384, "fits a post: \(encoded.count)")

        var small = run("small")
        small.stdout = "é\n"
        small.result = "{\"a\":1}"
        let kept = RunOutbox.record(small)
        #expect(kept.outputTruncated == false && kept.stdout == "é\n" && kept.result == ["a": 1])
        #expect(RunOutbox.cut("aé😀b", toEscaped: 100, maxBytes: 5) == "aé", "cut at a character boundary")
        #expect(RunOutbox.escapedSize("a\"\n\u{1}") == 1 + 2 + 2 + 6)
    }

    @Test func theOutboxServiceBacksOffWithJitterUpToItsCeiling() {
        let base = Duration.seconds(5)
        let ceiling = Duration.seconds(300)
        #expect(OutboxService.delay(afterFailures: 0, interval: base, maxDelay: ceiling, jitter: 1.5) == base)
        #expect(OutboxService.delay(afterFailures: 1, interval: base, maxDelay: ceiling, jitter: 1) == .seconds(10))
        #expect(OutboxService.delay(afterFailures: 3, interval: base, maxDelay: ceiling, jitter: 0.5) == .seconds(20))
        #expect(OutboxService.delay(afterFailures: 40, interval: base, maxDelay: ceiling, jitter: 1) == ceiling)
        let jittered = OutboxService.delay(afterFailures: 2, interval: base, maxDelay: ceiling)
        #expect(jittered >= .seconds(10) && jittered <= .seconds(30))
    }

    @Test func sinceAsksForAnOverlapBeforeTheCursor() throws {
        let store = try DesktopStore.inMemory()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try store.setCursor(now, account: account, projectID: "p", kind: "skills")
        try store.setCursor(now.addingTimeInterval(-100), account: account, projectID: "p", kind: "skills")
        #expect(try store.cursor(account: account, projectID: "p", kind: "skills") == now, "a cursor never moves back")
        #expect(try store.cursor(account: account, projectID: "p", kind: "agents") == nil)
    }
}

/// A client that is never called (batching reads only the store).
enum GatewayClientStub {
    static let client = GatewayClient(baseURL: URL(string: "http://127.0.0.1:9")!)
}
