@testable import AgentOSServer
import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation
import Logging
import Testing

extension JobFileReader {
    /// A reader over `store` and a blob store of its own in a new temporary directory.
    static func scratch(store: any AppStore) throws -> JobFileReader {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-blobs-\(UUID().uuidString.prefix(8))").path
        return JobFileReader(store: store, blobs: try DirectoryBlobStore(root: root, store: store), logger: Logger(label: "test"))
    }
}

/// The server's half of fetching job files over the bus (PROTOCOL §3.5.1): who may `FETCH`
/// (`Dispatcher.admitFetch` on the bus thread, `JobFileReader` against the database), and the
/// chunks it answers with.
@Suite struct FileServingTests {
    /// Workers `w1` and `w2` connected, and a job given `data.bin` (but not `other.txt`, another
    /// file of the project) running on `w1`.
    final class Setup {
        let harness: DispatcherHarness
        let reader: JobFileReader
        let file: StoredFile
        let other: StoredFile
        let data: Data
        let assignment: JobAssignment

        init(size: Int = 600_000) throws {
            harness = try DispatcherHarness()
            reader = try JobFileReader.scratch(store: harness.store)
            data = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 9) })
            let alice = harness.alice.id, project = harness.project.id, size = data.count
            file = try reader.blobs.addFile(data) { sha in
                StoredFile(projectID: project, name: "data.bin", sha256: sha, size: size, contentType: "application/octet-stream", createdBy: alice)
            }
            let otherBytes = Data("other".utf8)
            other = try reader.blobs.addFile(otherBytes) { sha in
                StoredFile(projectID: project, name: "other.txt", sha256: sha, size: otherBytes.count, contentType: "text/plain", createdBy: alice)
            }
            try harness.connect("w1")
            let job = Job(projectID: harness.project.id, code: "pass", inputs: [:], target: .cloud, submittedBy: harness.alice.id, createdAt: harness.now)
            let stored = try harness.store.submit(job, files: [JobFile(jobID: job.id, fileID: file.id, name: file.name, sha256: file.sha256, size: file.size)]).job
            harness.dispatcher.enqueue([QueuedJob(stored)])
            assignment = try #require(try harness.dispatcher.commit(now: harness.now).jobs(to: "w1").first)
            try harness.connect("w2")
        }

        func fetch(offset: Int = 0, length: Int = Bus.maxFileChunkBytes, attempt: Int? = nil, file: String? = nil) -> FileFetch {
            FileFetch(jobID: assignment.jobID, attempt: attempt ?? assignment.attempt, fileID: file ?? self.file.id, offset: offset, length: length)
        }

        /// The bus thread's verdict: the answer it sends at once, or nil when it reads the file for `w1`.
        func admit(_ fetch: FileFetch, from worker: String = "w1") -> [Outbound]? {
            switch harness.dispatcher.admitFetch(identity: Array(worker.utf8), fetch: fetch, now: harness.now) {
            case .answer(let out): return out
            case .read(let workerID): return workerID == "id-\(worker)" ? nil : []
            }
        }
    }

    func refusal(_ out: [Outbound]?) throws -> String? {
        guard let message = out?.first?.message, message.command == .file else { return nil }
        return try message.decode(FileChunk.self).error?.code
    }

    @Test func onlyTheWorkerRunningThatAttemptMayFetch() throws {
        let setup = try Setup()
        #expect(setup.assignment.files.map(\.id) == [setup.file.id])
        #expect(setup.admit(setup.fetch()) == nil)
        // An unknown connection is told to say hello, as for any other command.
        let stranger = try #require(setup.admit(setup.fetch(), from: "nobody"))
        #expect(stranger.first?.message.command == .reject)
        #expect(try stranger.first?.message.decode(Reject.self).code == Reject.notRegistered)
        // Another worker, another attempt, another job.
        #expect(try refusal(setup.admit(setup.fetch(), from: "w2")) == FileChunk.Failure.notRunning)
        #expect(try refusal(setup.admit(setup.fetch(attempt: setup.assignment.attempt + 1))) == FileChunk.Failure.notRunning)
        #expect(try refusal(setup.admit(setup.fetch(attempt: 0))) == FileChunk.Failure.notRunning)
        var elsewhere = setup.fetch()
        elsewhere.jobID = "no-such-job"
        #expect(try refusal(setup.admit(elsewhere)) == FileChunk.Failure.notRunning)
        // A length out of range.
        #expect(try refusal(setup.admit(setup.fetch(length: Bus.maxFileChunkBytes + 1))) == FileChunk.Failure.badRequest)
        #expect(try refusal(setup.admit(setup.fetch(length: 0))) == FileChunk.Failure.badRequest)
        #expect(try refusal(setup.admit(setup.fetch(offset: -1))) == FileChunk.Failure.badRequest)
    }

    @Test func theDatabaseDecidesTheRest() throws {
        let setup = try Setup()
        #expect(setup.reader.read(setup.fetch(), workerID: "id-w1").error == nil)
        // A file of the project that is not one of the job's files.
        #expect(setup.reader.read(setup.fetch(file: setup.other.id), workerID: "id-w1").error?.code == FileChunk.Failure.notFound)
        #expect(setup.reader.read(setup.fetch(file: "nope"), workerID: "id-w1").error?.code == FileChunk.Failure.notFound)
        // Checked against the database too, not only the bus thread's view.
        #expect(setup.reader.read(setup.fetch(), workerID: "id-w2").error?.code == FileChunk.Failure.notRunning)
        #expect(setup.reader.read(setup.fetch(attempt: 2), workerID: "id-w1").error?.code == FileChunk.Failure.notRunning)
        #expect(setup.reader.read(setup.fetch(offset: setup.data.count + 1), workerID: "id-w1").error?.code == FileChunk.Failure.badRequest)

        // The bytes lost from the store.
        let root = try #require(setup.reader.blobs as? DirectoryBlobStore).root
        unlink("\(root)/\(setup.file.sha256.prefix(2))/\(setup.file.sha256)")
        #expect(setup.reader.read(setup.fetch(), workerID: "id-w1").error?.code == FileChunk.Failure.blobMissing)

        // Cancelled: the worker still holds the slot until it reports, but gets no more bytes.
        _ = try setup.harness.store.cancel(jobID: setup.assignment.jobID, at: setup.harness.now)
        #expect(setup.admit(setup.fetch()) == nil)
        #expect(setup.reader.read(setup.fetch(), workerID: "id-w1").error?.code == FileChunk.Failure.notRunning)
    }

    @Test func aDeletedFileIsNotServed() throws {
        let setup = try Setup()
        _ = try setup.harness.store.deleteFile(id: setup.file.id)
        #expect(setup.reader.read(setup.fetch(), workerID: "id-w1").error?.code == FileChunk.Failure.notFound)
    }

    @Test func chunksPutTogetherAreTheFile() throws {
        let setup = try Setup(size: 2 * Bus.maxFileChunkBytes + 1000)
        var whole = Data()
        var offset = 0
        var ends: [Bool] = []
        while true {
            let chunk = setup.reader.read(setup.fetch(offset: offset), workerID: "id-w1")
            let bytes = try #require(chunk.data.flatMap { Data(base64Encoded: $0) })
            #expect(chunk.size == setup.data.count)
            #expect(BusMessage(.file, chunk).frames.reduce(0) { $0 + $1.count } < Bus.maxMessageBytes)
            whole += bytes
            offset += bytes.count
            ends.append(chunk.eof == true)
            if chunk.eof == true || ends.count > 10 { break }
        }
        #expect(whole == setup.data)
        #expect(ends == [false, false, true])
        #expect(ContentHash.sha256Hex(whole) == setup.file.sha256)
        // A request from the very end: no bytes, and the end.
        let end = setup.reader.read(setup.fetch(offset: setup.data.count), workerID: "id-w1")
        #expect(end.data == "" && end.eof == true)
        // A short request in the middle gets exactly that.
        let middle = setup.reader.read(setup.fetch(offset: 1000, length: 10), workerID: "id-w1")
        #expect(middle.data.flatMap { Data(base64Encoded: $0) } == setup.data.subdata(in: 1000..<1010))
        #expect(middle.eof == false)
    }

    @Test func aFetchIsSmallAndAChunkFitsAWorkersMessage() {
        let fetch = FileFetch(jobID: String(repeating: "j", count: 36), attempt: 10, fileID: String(repeating: "f", count: 36), offset: 40 << 20, length: Bus.maxFileChunkBytes)
        #expect(BusMessage(.fetch, fetch).body.count < 200)
        let chunk = FileChunk(answering: fetch, bytes: Data(count: Bus.maxFileChunkBytes), size: 41 << 20)
        #expect(BusMessage(.file, chunk).body.count < 400 << 10)
    }
}
