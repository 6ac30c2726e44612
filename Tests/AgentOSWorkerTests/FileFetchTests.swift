import AgentOSAuth
import AgentOSWire
import Foundation
import Synchronization
import Testing
@testable import AgentOSWorker

/// The worker's half of fetching job files over the bus (PROTOCOL §3.5.1): the session's
/// window, timeouts and resets, and the fetcher's chunking, reassembly, checks and retries.
@Suite struct FileFetchTests {
    let t0 = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .seconds(seconds) }

    func welcomed() -> WorkerSession {
        var configuration = WorkerConfiguration(serverEndpoint: "tcp://server:5555", kind: .cloud, credential: WorkerCredential(workerToken: "t"))
        configuration.helloJitter = 0
        var session = WorkerSession(configuration: configuration)
        _ = session.start(at: at(0))
        _ = session.received(BusMessage(.welcome, Welcome(workerID: configuration.workerID, heartbeatMS: 1000, deadAfterIntervals: 5, serverVersion: "t"))
            .frames[...], at: at(0))
        return session
    }

    func request(_ offset: Int, job: String = "j") -> FileFetch {
        FileFetch(jobID: job, attempt: 1, fileID: "f", offset: offset, length: Bus.maxFileChunkBytes)
    }

    func fetchesSent(_ actions: [WorkerSession.Action]) throws -> [FileFetch] {
        try actions.compactMap { if case .send(let message) = $0, message.command == .fetch { try message.decode(FileFetch.self) } else { nil } }
    }

    func failed(_ actions: [WorkerSession.Action]) -> [FileFetch] {
        actions.compactMap { if case .fetchFailed(let request, _) = $0 { request } else { nil } }
    }

    func arrived(_ actions: [WorkerSession.Action]) -> [FileChunk] {
        actions.compactMap { if case .fileArrived(let chunk) = $0 { chunk } else { nil } }
    }

    // MARK: Session

    @Test func beforeWelcomeAFetchFailsAtOnce() throws {
        var configuration = WorkerConfiguration(serverEndpoint: "tcp://server:5555", kind: .cloud, credential: WorkerCredential(workerToken: "t"))
        configuration.helloJitter = 0
        var session = WorkerSession(configuration: configuration)
        _ = session.start(at: at(0))
        let actions = session.fetch(request(0), at: at(0.1))
        #expect(try fetchesSent(actions).isEmpty)
        #expect(failed(actions) == [request(0)])
    }

    @Test func atMostTheWindowIsOutstandingAndAnswersLetTheNextGo() throws {
        var session = welcomed()
        var sent: [FileFetch] = []
        for index in 0..<6 { sent += try fetchesSent(session.fetch(request(index * Bus.maxFileChunkBytes), at: at(1))) }
        #expect(sent.map(\.offset) == (0..<WorkerSession.fetchWindow).map { $0 * Bus.maxFileChunkBytes })

        // The answer to the second goes to its job, and the fifth goes out.
        let answer = FileChunk(answering: request(Bus.maxFileChunkBytes), bytes: Data([1, 2]), size: 10 << 20)
        let actions = session.received(BusMessage(.file, answer).frames[...], at: at(2))
        #expect(arrived(actions) == [answer])
        #expect(try fetchesSent(actions).map(\.offset) == [4 * Bus.maxFileChunkBytes])

        // The same answer again (late, unasked) goes nowhere and frees nothing.
        let again = session.received(BusMessage(.file, answer).frames[...], at: at(2.1))
        #expect(arrived(again).isEmpty)
        #expect(try fetchesSent(again).isEmpty)
    }

    @Test func aFetchWithoutAnswerTimesOutAndFreesItsPlace() throws {
        var session = welcomed()
        for index in 0..<5 { _ = session.fetch(request(index), at: at(1)) }
        // Heartbeats keep the server alive meanwhile; only the fetches are overdue.
        var actions: [WorkerSession.Action] = []
        var time = 1.0
        while time < 1 + Double(WorkerSession.fetchTimeout.components.seconds) {
            time += 0.5
            _ = session.received(BusMessage(.heartbeat, EmptyBody()).frames[...], at: at(time))
            actions += session.tick(at: at(time))
        }
        #expect(Set(failed(actions).map(\.offset)) == [0, 1, 2, 3])
        #expect(try fetchesSent(actions).map(\.offset) == [4])
    }

    @Test func aReconnectOrACancelGivesUpTheFetches() throws {
        var session = welcomed()
        _ = session.received(BusMessage(.job, JobAssignment(jobID: "j", attempt: 1, code: "", inputs: [:], limits: JobLimits())).frames[...], at: at(0.5))
        for index in 0..<6 { _ = session.fetch(request(index), at: at(1)) }
        // The server cancels the job: its fetches, sent or waiting, end.
        let cancelled = session.received(BusMessage(.cancel, RunningJob(jobID: "j", attempt: 1)).frames[...], at: at(1.5))
        #expect(failed(cancelled).count == 6)

        for index in 0..<3 { _ = session.fetch(request(index, job: "k"), at: at(2)) }
        // The server goes silent past the dead-peer timeout: a new socket, and no answers to wait for.
        let reconnect = session.tick(at: at(8))
        #expect(failed(reconnect).count == 3)
        #expect(failed(session.fetch(request(0, job: "k"), at: at(8.1))).count == 1)
    }

    // MARK: Fetcher

    /// A server of `files` by id, answering each request after a random pause so answers
    /// come out of order, first answering `busy` `busyFirst` times.
    final class Server: Sendable {
        let files: [String: Data]
        let busyFirst: Int
        let requests = Mutex<[FileFetch]>([])

        init(files: [String: Data], busyFirst: Int = 0) {
            self.files = files
            self.busyFirst = busyFirst
        }

        func answer(_ fetch: FileFetch) async throws -> FileChunk {
            let count = requests.withLock { $0.append(fetch); return $0.count }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...5)))
            if count <= busyFirst { return FileChunk(answering: fetch, failure: .init(code: FileChunk.Failure.busy, message: "busy")) }
            guard let data = files[fetch.fileID] else {
                return FileChunk(answering: fetch, failure: .init(code: FileChunk.Failure.notFound, message: "no"))
            }
            let end = min(data.count, fetch.offset + fetch.length)
            return FileChunk(answering: fetch, bytes: data.subdata(in: fetch.offset..<end), size: data.count)
        }
    }

    func job(_ files: [(String, Data)], sha256: [String: String] = [:]) -> JobAssignment {
        JobAssignment(jobID: "j", attempt: 2, code: "", inputs: [:], limits: JobLimits(), files: files.map { name, data in
            JobFileRef(id: "id-\(name)", name: name, sha256: sha256[name] ?? ContentHash.sha256Hex(data), size: data.count)
        })
    }

    func fetcher(_ server: Server) -> JobFileFetcher {
        var fetcher = JobFileFetcher(stagingRoot: FileManager.default.temporaryDirectory.path) { try await server.answer($0) }
        fetcher.firstBackoff = .milliseconds(1)
        fetcher.maxBackoff = .milliseconds(2)
        return fetcher
    }

    static func bytes(_ count: Int, seed: Int) -> Data { Data((0..<count).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 >> 10 + seed) }) }

    @Test func chunksComeBackInOrderWhateverOrderTheyArriveIn() async throws {
        let large = Self.bytes(5 * Bus.maxFileChunkBytes + 77, seed: 1)
        let files = [("large.bin", large), ("empty", Data()), ("small.txt", Data("hi".utf8))]
        let server = Server(files: Dictionary(uniqueKeysWithValues: files.map { ("id-\($0.0)", $0.1) }))
        let directory = try await fetcher(server).fetch(job(files))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (name, data) in files {
            #expect(FileManager.default.contents(atPath: directory + "/" + name) == data, "\(name)")
        }
        let requests = server.requests.withLock { $0 }
        #expect(requests.filter { $0.fileID == "id-large.bin" }.map(\.offset).sorted() == (0...5).map { $0 * Bus.maxFileChunkBytes })
        #expect(requests.allSatisfy { $0.attempt == 2 && $0.length <= Bus.maxFileChunkBytes && $0.length > 0 })
    }

    @Test func aFileThatDoesNotMatchItsSHA256FailsTheFetch() async throws {
        let data = Self.bytes(300_000, seed: 2)
        let server = Server(files: ["id-a.bin": data])
        await #expect(throws: JobFileFetcher.Failure.self) {
            try await fetcher(server).fetch(job([("a.bin", data)], sha256: ["a.bin": String(repeating: "0", count: 64)]))
        }
    }

    @Test func aFileOfAnotherSizeFailsTheFetch() async throws {
        let server = Server(files: ["id-a.bin": Self.bytes(1000, seed: 3)])
        let claimed = Self.bytes(999, seed: 3)
        let error = await #expect(throws: JobFileFetcher.Failure.self) { try await fetcher(server).fetch(job([("a.bin", claimed)])) }
        #expect(error?.description.contains("1000 bytes on the server") == true, "\(String(describing: error))")
    }

    @Test func busyIsAskedAgainButARefusalFailsAtOnce() async throws {
        let data = Self.bytes(1000, seed: 4)
        let busy = Server(files: ["id-a.bin": data], busyFirst: 3)
        let directory = try await fetcher(busy).fetch(job([("a.bin", data)]))
        try? FileManager.default.removeItem(atPath: directory)
        #expect(busy.requests.withLock { $0.count } == 4)

        let missing = Server(files: [:])
        let error = await #expect(throws: JobFileFetcher.Failure.self) { try await fetcher(missing).fetch(job([("a.bin", data)])) }
        #expect(error?.description.contains("not_found") == true)
        #expect(missing.requests.withLock { $0.count } == 1)
    }

    @Test func unansweredFetchesAreTriedALimitedNumberOfTimes() async throws {
        let tries = Mutex(0)
        var fetcher = JobFileFetcher(stagingRoot: FileManager.default.temporaryDirectory.path) { _ in
            tries.withLock { $0 += 1 }
            throw JobFileFetcher.Interrupted("no answer from the server within 30 s")
        }
        fetcher.firstBackoff = .milliseconds(1)
        fetcher.maxBackoff = .milliseconds(2)
        fetcher.maxTries = 3
        let error = await #expect(throws: JobFileFetcher.Failure.self) { try await fetcher.fetch(job([("a.bin", Data([1]))])) }
        #expect(error?.description.contains("3 tries") == true, "\(String(describing: error))")
        #expect(tries.withLock { $0 } == 3)
    }

    @Test func aCancelledRunStopsWaiting() async throws {
        let pending = PendingFetches()
        let asked = Mutex(false)
        let fetcher = JobFileFetcher(stagingRoot: FileManager.default.temporaryDirectory.path) { request in
            try await pending.request(request) { asked.withLock { $0 = true } }
        }
        let task = Task { try await fetcher.fetch(job([("a.bin", Data([1]))])) }
        // Once it waits for an answer that never comes, a cancel still ends it.
        let deadline = ContinuousClock.now + .seconds(60)
        while !asked.withLock({ $0 }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(asked.withLock { $0 })
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}
