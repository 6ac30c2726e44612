import AgentOSAuth
import AgentOSWire
import Foundation

/// Fetches a job's files over the bus (`FETCH` → `FILE`, PROTOCOL §3.5.1) into a staging
/// directory before the engine runs the job: each file in chunks of `chunkBytes`, at most
/// `window` of them asked for at once, put back together in order and checked against the
/// size and SHA-256 the `JOB` gave. The bus is all a worker needs, so a worker behind NAT,
/// or one started with only `--server` and a token, gets its jobs' files too.
public struct JobFileFetcher: Sendable {
    /// Why the files could not be had; the job fails with `files_unavailable`.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A request that got no answer (not connected, reconnected, timed out): worth asking again.
    public struct Interrupted: Error, CustomStringConvertible {
        public let description: String

        public init(_ description: String) {
            self.description = description
        }
    }

    /// Sends one `FETCH` and returns its `FILE`, or throws `Interrupted` when none will come.
    public typealias Request = @Sendable (FileFetch) async throws -> FileChunk

    /// Where staging directories are made.
    public var stagingRoot: String
    /// Bytes asked for by one `FETCH`.
    public var chunkBytes = Bus.maxFileChunkBytes
    /// Chunks of one job asked for at once (the worker's session also keeps all its jobs
    /// together within `WorkerSession.fetchWindow`).
    public var window = WorkerSession.fetchWindow
    /// Tries of one chunk that got no answer or a `busy`/`unavailable` before the job fails.
    public var maxTries = 10
    /// The pause after the first such try; it doubles up to `maxBackoff`, each jittered.
    public var firstBackoff: Duration = .milliseconds(250)
    public var maxBackoff: Duration = .seconds(4)
    private let request: Request

    /// A fetcher that sends its requests with `request`.
    public init(stagingRoot: String = NSTemporaryDirectory(), request: @escaping Request) {
        self.stagingRoot = stagingRoot
        self.request = request
    }

    /// A new directory holding every file of `job` under its name; throws `Failure`, or
    /// `CancellationError` when the run was cancelled meanwhile.
    public func fetch(_ job: JobAssignment) async throws -> String {
        let directory = (stagingRoot as NSString).appendingPathComponent("agentos-files-\(UUID().uuidString.lowercased())")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            for file in job.files {
                // Names come from the server, which checked them; refuse anything that is not plain anyway.
                guard !file.name.isEmpty, !file.name.contains("/"), file.name != ".", file.name != "..", file.size >= 0 else {
                    throw Failure(description: "file \(file.name) is not a plain name")
                }
                try await fetch(file, of: job, to: directory + "/" + file.name)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            if let failure = error as? Failure { throw failure }
            throw Failure(description: "could not stage the job's files: \(error)")
        }
        return directory
    }

    /// One file: its chunks, `window` at a time, written and hashed in order as they come.
    private func fetch(_ file: JobFileRef, of job: JobAssignment, to path: String) async throws {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw Failure(description: "cannot create \(file.name) in the staging directory") }
        defer { try? handle.close() }
        // An empty file is one request too: the server still says it exists and is empty.
        let offsets = file.size == 0 ? [0] : Array(stride(from: 0, to: file.size, by: chunkBytes))
        var hasher = ContentHash.Hasher()
        try await withThrowingTaskGroup(of: (Int, Data).self) { group in
            var next = offsets.makeIterator()
            var arrived: [Int: Data] = [:]
            var written = 0
            for _ in 0..<max(1, window) {
                guard let offset = next.next() else { break }
                group.addTask { try await chunk(of: file, job: job, at: offset) }
            }
            while let (offset, data) = try await group.next() {
                arrived[offset] = data
                while let data = arrived.removeValue(forKey: written) {
                    try handle.write(contentsOf: data)
                    hasher.update(data)
                    written += data.count
                    if data.isEmpty { break }
                }
                if let offset = next.next() { group.addTask { try await chunk(of: file, job: job, at: offset) } }
            }
            guard written == file.size else {
                throw Failure(description: "file \(file.name) came as \(written) bytes, not \(file.size)")
            }
        }
        guard hasher.hex() == file.sha256 else { throw Failure(description: "file \(file.name) did not match its SHA-256") }
    }

    /// The bytes of `file` from `offset`, asked for again (after a pause) while the answer is
    /// only a matter of time, up to `maxTries`.
    private func chunk(of file: JobFileRef, job: JobAssignment, at offset: Int) async throws -> (Int, Data) {
        let wanted = file.size == 0 ? chunkBytes : min(chunkBytes, file.size - offset)
        let fetch = FileFetch(jobID: job.jobID, attempt: job.attempt, fileID: file.id, offset: offset, length: wanted)
        var pause = firstBackoff
        var tries = 0
        while true {
            tries += 1
            let problem: String
            do {
                let answer = try await request(fetch)
                if let error = answer.error {
                    guard error.isRetryable else { throw Failure(description: "file \(file.name): the server said \(error)") }
                    problem = "the server said \(error)"
                } else {
                    return (offset, try check(answer, of: file, wanted: file.size == 0 ? 0 : wanted))
                }
            } catch let interrupted as Interrupted {
                problem = interrupted.description
            }
            guard tries < maxTries else { throw Failure(description: "file \(file.name) at byte \(offset): \(problem) (\(tries) tries)") }
            try await Task.sleep(for: pause * Double.random(in: 0.5...1))
            pause = min(maxBackoff, pause * 2)
        }
    }

    /// The bytes of a `FILE`, once they are what was asked for.
    private func check(_ answer: FileChunk, of file: JobFileRef, wanted: Int) throws -> Data {
        guard let base64 = answer.data, let data = Data(base64Encoded: base64) else {
            throw Failure(description: "file \(file.name): the server's answer held no readable bytes")
        }
        guard answer.size == file.size else {
            throw Failure(description: "file \(file.name) is \(answer.size.map(String.init) ?? "?") bytes on the server, not \(file.size)")
        }
        guard data.count == wanted, answer.eof == (answer.offset + data.count >= file.size) else {
            throw Failure(description: "file \(file.name): the server sent \(data.count) bytes at \(answer.offset), not \(wanted)")
        }
        return data
    }
}
