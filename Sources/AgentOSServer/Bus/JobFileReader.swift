import AgentOSStore
import AgentOSWire
import Foundation
import Logging

/// Answers a worker's `FETCH` from the database and the blob store (PROTOCOL §3.5.1). It
/// blocks on disk and on the database, so the bus runs it in a task of its own, never on its
/// thread. The rule is the one a job file token enforces over HTTP: the job is `running` with
/// that attempt, on that worker, and the file is one of the job's files and still exists.
struct JobFileReader: Sendable {
    let store: any AppStore
    let blobs: any BlobStore
    let logger: Logger

    /// The `FILE` answering `fetch` from `workerID`, which the bus has already seen holds that
    /// attempt (`Dispatcher.admitFetch`).
    func read(_ fetch: FileFetch, workerID: String) -> FileChunk {
        func refuse(_ code: String, _ message: String) -> FileChunk {
            FileChunk(answering: fetch, failure: .init(code: code, message: message))
        }
        if let problem = fetch.problem { return refuse(FileChunk.Failure.badRequest, problem) }
        let file: StoredFile
        do {
            guard let job = try store.job(id: fetch.jobID), job.status == .running, job.attempts == fetch.attempt,
                job.workerID == workerID
            else { return refuse(FileChunk.Failure.notRunning, "this worker does not run attempt \(fetch.attempt) of that job") }
            guard try store.jobFiles(jobID: fetch.jobID).contains(where: { $0.fileID == fetch.fileID }),
                let stored = try store.file(id: fetch.fileID)
            else { return refuse(FileChunk.Failure.notFound, "that file is not one of the job's files") }
            file = stored
        } catch {
            logger.error("could not check a file fetch", metadata: ["job": "\(fetch.jobID)", "error": "\(error)"])
            return refuse(FileChunk.Failure.unavailable, "the server cannot check the request right now")
        }
        guard fetch.offset <= file.size else {
            return refuse(FileChunk.Failure.badRequest, "offset \(fetch.offset) is past the end of the file (\(file.size) bytes)")
        }
        let read: Data?
        do {
            read = try blobs.read(file.sha256, offset: fetch.offset, length: min(fetch.length, file.size - fetch.offset))
        } catch {
            logger.error("could not read a file's bytes", metadata: ["file": "\(file.id)", "error": "\(error)"])
            return refuse(FileChunk.Failure.unavailable, "the server cannot read the file right now")
        }
        guard let bytes = read else {
            logger.error("file blob missing", metadata: ["file": "\(file.id)", "sha256": "\(file.sha256)"])
            return refuse(FileChunk.Failure.blobMissing, "the file's bytes are missing from the server's store")
        }
        return FileChunk(answering: fetch, bytes: bytes, size: file.size)
    }
}
