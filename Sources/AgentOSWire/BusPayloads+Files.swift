import Foundation

/// `FETCH` (worker → server): bytes `offset ..< offset + length` of one file of a job the
/// worker runs (PROTOCOL §3.5.1). The answer is a `FILE` naming the same job, attempt, file
/// and offset.
public struct FileFetch: Codable, Sendable, Hashable {
    /// The job the file belongs to.
    public var jobID: String
    /// The attempt the worker runs; the server answers only for the attempt it holds.
    public var attempt: Int
    /// The file's id, from the job's `files`.
    public var fileID: String
    /// The first byte wanted.
    public var offset: Int
    /// How many bytes, 1 to `Bus.maxFileChunkBytes`.
    public var length: Int

    /// A request for one chunk.
    public init(jobID: String, attempt: Int, fileID: String, offset: Int, length: Int) {
        self.jobID = jobID
        self.attempt = attempt
        self.fileID = fileID
        self.offset = offset
        self.length = length
    }

    /// What the answer is matched by: everything but the length.
    public var key: FileChunk.Key { FileChunk.Key(jobID: jobID, attempt: attempt, fileID: fileID, offset: offset) }

    /// Why the request is malformed (offset or length out of range), or nil.
    public var problem: String? {
        if offset < 0 { return "offset must not be negative" }
        if !(1...Bus.maxFileChunkBytes).contains(length) { return "length must be 1-\(Bus.maxFileChunkBytes)" }
        return nil
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case fileID = "file_id"
        case attempt, offset, length
    }
}

/// `FILE` (server → worker): the answer to one `FETCH`. Either the bytes (`data`, with the
/// file's whole `size` and whether they reach its end) or an `error`.
public struct FileChunk: Codable, Sendable, Equatable {
    /// Which request an answer belongs to.
    public struct Key: Hashable, Sendable {
        public var jobID: String
        public var attempt: Int
        public var fileID: String
        public var offset: Int

        public init(jobID: String, attempt: Int, fileID: String, offset: Int) {
            self.jobID = jobID
            self.attempt = attempt
            self.fileID = fileID
            self.offset = offset
        }
    }

    /// Why a `FETCH` got no bytes.
    public struct Failure: Codable, Sendable, Equatable, Error, CustomStringConvertible {
        /// One of the codes below.
        public var code: String
        /// What happened, for people.
        public var message: String

        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }

        public var description: String { "\(code): \(message)" }

        /// Worth asking again after a pause: the server is busy or could not check now.
        public var isRetryable: Bool { code == Self.busy || code == Self.unavailable }

        /// The job is not running with this attempt on this worker (any more).
        public static let notRunning = "not_running"
        /// The file is not one of this job's files, or it has been deleted.
        public static let notFound = "not_found"
        /// The server has lost the file's bytes.
        public static let blobMissing = "blob_missing"
        /// The offset or length is out of range.
        public static let badRequest = "bad_request"
        /// Too many file reads at once, on this connection or on the server: ask again later.
        public static let busy = "busy"
        /// The server could not check the request now (a database error): ask again later.
        public static let unavailable = "unavailable"
    }

    /// The job, as in the `FETCH`.
    public var jobID: String
    /// The attempt, as in the `FETCH`.
    public var attempt: Int
    /// The file, as in the `FETCH`.
    public var fileID: String
    /// The offset, as in the `FETCH`.
    public var offset: Int
    /// The bytes from `offset`, base64; absent with an `error`.
    public var data: String?
    /// The whole file's size in bytes; absent with an `error`.
    public var size: Int?
    /// Whether these bytes reach the end of the file; absent with an `error`.
    public var eof: Bool?
    /// Why there are no bytes.
    public var error: Failure?

    /// The bytes of `fetch`, out of a file of `size` bytes.
    public init(answering fetch: FileFetch, bytes: Data, size: Int) {
        jobID = fetch.jobID
        attempt = fetch.attempt
        fileID = fetch.fileID
        offset = fetch.offset
        data = bytes.base64EncodedString()
        self.size = size
        eof = fetch.offset + bytes.count >= size
    }

    /// The refusal of `fetch`.
    public init(answering fetch: FileFetch, failure: Failure) {
        jobID = fetch.jobID
        attempt = fetch.attempt
        fileID = fetch.fileID
        offset = fetch.offset
        error = failure
    }

    /// The request this answers.
    public var key: Key { Key(jobID: jobID, attempt: attempt, fileID: fileID, offset: offset) }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case fileID = "file_id"
        case attempt, offset, data, size, eof, error
    }
}
