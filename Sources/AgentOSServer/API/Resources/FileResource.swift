import AgentOSAPI
import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation

/// Files: uploads, listings, downloads (by users, and by workers with a job's file token).
struct FileResource: APIResource {
    static let operations: [APIOperation] = [.uploadFile, .listFiles, .getFile, .deleteFile]

    let context: APIContext
    let blobs: any BlobStore
    let maxFileBytes: Int
    /// Bytes of files read for downloads in progress: concurrent downloads of large files
    /// cannot take the server's memory.
    let downloads: ByteBudget

    func respond(to request: APICall, as caller: Caller) async throws -> Reply {
        switch request.operation {
        case .uploadFile: return try uploadFile(request, caller: caller)
        case .listFiles: return try listFiles(request, caller: caller)
        case .getFile: return try getFile(request, caller: caller)
        case .deleteFile: return try deleteFile(request, caller: caller)
        default: throw APIError.notFound("operation")
        }
    }

    func uploadFile(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.writeFile)
        let name = try FieldRules.fileName(request.params["name"], "name")
        let data = request.raw
        guard data.count <= maxFileBytes else {
            throw APIError(413, "file_too_large", "files may be at most \(maxFileBytes >> 20) MiB")
        }
        var contentType = request.contentType ?? "application/octet-stream"
        if contentType.utf8.count > 200 || contentType.contains(where: \.isNewline) { contentType = "application/octet-stream" }
        let file = try blobs.addFile(data) { sha256 in
            StoredFile(
                projectID: access.project.id, name: name, sha256: sha256, size: data.count, contentType: contentType,
                createdBy: caller.user.id)
        }
        return try .created(Schemas.File(file, project: access.project))
    }

    func listFiles(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        let limit = try pageLimit(request.params["limit"], fallback: 100, maximum: 1000)
        var before: (Date, String)?
        if let cursor = request.params["cursor"] {
            guard let file = try store.file(id: cursor), file.projectID == access.project.id else {
                throw APIError.invalid("cursor is not one this server gave out")
            }
            before = (file.createdAt, file.id)
        }
        let files = try store.files(projectID: access.project.id, limit: limit, before: before)
        let next = files.count == limit ? files.last?.id : nil
        return try .ok(Schemas.FileList(files: files.map { Schemas.File($0, project: access.project) }, nextCursor: next))
    }

    /// The file and the caller's access to its project; 404 when they may not see it.
    private func visibleFile(_ id: String?, caller: Caller) throws -> (StoredFile, ProjectAccess) {
        try visible("file", id, caller: caller, fetch: store.file(id:), projectID: \.projectID)
    }

    func getFile(_ request: APICall, caller: Caller) throws -> Reply {
        let (file, access) = try visibleFile(request.params["file"], caller: caller)
        return try .ok(Schemas.File(file, project: access.project))
    }

    /// `GET /files/{id}/content`, before any other authentication: workers fetch job files
    /// with a job-scoped token, everyone else with their own.
    func download(_ request: APICall) async throws -> Reply {
        if let grant = try context.authenticator.fileGrant(request.token) { return try downloadFile(request, grant: grant) }
        return try downloadFile(request, caller: try await context.authenticate(request))
    }

    func downloadFile(_ request: APICall, caller: Caller) throws -> Reply {
        let (file, _) = try visibleFile(request.params["file"], caller: caller)
        return try content(of: file)
    }

    /// A worker fetching a file of the job it runs: only files given to that job.
    func downloadFile(_ request: APICall, grant: JobFileTokens.Grant) throws -> Reply {
        guard let id = request.params["file"], try store.jobFiles(jobID: grant.jobID).contains(where: { $0.fileID == id }),
            let file = try store.file(id: id)
        else { throw APIError.notFound("file") }
        return try content(of: file)
    }

    private func content(of file: StoredFile) throws -> Reply {
        guard downloads.take(file.size) else {
            throw APIError.retryLater(503, "overloaded", "too many files are being downloaded at once; retry shortly", after: 1)
        }
        defer { downloads.give(file.size) }
        guard let data = try blobs.bytes(file.sha256) else {
            logger.error("file blob missing", metadata: ["file": "\(file.id)", "sha256": "\(file.sha256)"])
            throw APIError(410, "blob_missing", "the file's bytes are missing from the server's store")
        }
        return .bytes(data, headers: [
            "Content-Type": file.contentType, "ETag": "\"\(file.sha256)\"",
            "Content-Disposition": Self.contentDisposition(file.name),
        ])
    }

    /// `attachment` with an ASCII fallback name and the exact name in RFC 5987 form.
    static func contentDisposition(_ name: String) -> String {
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 ? Character($0) : "_" })
        let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ascii
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }

    func deleteFile(_ request: APICall, caller: Caller) throws -> Reply {
        let (file, access) = try visibleFile(request.params["file"], caller: caller)
        try access.require(.writeFile)
        _ = try blobs.removeFile(id: file.id)
        return .noContent
    }
}
