import AgentOSAPI
import AgentOSStore
import AgentOSWire

/// A validated job submission body; the skill, files and session it names are resolved by
/// the handler, which knows the project.
struct JobRequest: Equatable {
    enum Source: Equatable {
        case code(String)
        case skill(name: String, version: Int?)

        /// Whether a skill's version was named (else the latest runs).
        var namesAVersion: Bool {
            if case .skill(_, let version) = self { return version != nil }
            return false
        }
    }

    /// A file the job asks for, and the name it gets in the work dir.
    struct FileRequest: Equatable {
        var id: String
        var name: String?
    }

    var source: Source
    var inputs: [String: JSONValue]
    var target: JobTarget
    var worker: String?
    var labels: [String]
    var dirs: [String]
    var limits: Schemas.LimitsInput
    var maxAttempts: Int
    var priority: Int
    var idempotencyKey: String?
    var files: [FileRequest]
    var sessionID: String?

    static let maxInputBytes = 4 << 20
    static let maxFiles = 64

    /// Checks a submit body; every problem is a 400 naming the field.
    init(_ body: Schemas.JobSubmit) throws(APIError) {
        switch (body.skill, body.code) {
        case (.some, .some), (nil, nil):
            throw .invalid("give exactly one of skill (a registered skill's name) and code (Python source)")
        case (nil, .some(let code)):
            if body.version != nil { throw .invalid("version goes with skill, not with code") }
            source = .code(try FieldRules.required(code, "code", maxLength: APIHandler.maxCodeBytes))
        case (.some(let skill), nil):
            var name = try FieldRules.required(skill, "skill", maxLength: 80)
            var version = try FieldRules.within(body.version, "version", 1...1_000_000)
            // `name@3` is accepted as a shorthand for name and version.
            if let at = name.lastIndex(of: "@") {
                guard version == nil, let parsed = Int(name[name.index(after: at)...]), parsed >= 1 else {
                    throw .invalid("skill must be a name, or name@VERSION without a separate version")
                }
                version = parsed
                name = String(name[..<at])
            }
            source = .skill(name: name, version: version)
        }
        inputs = body.inputs ?? [:]
        if JSONValue.object(inputs).encoded().count > Self.maxInputBytes {
            throw .invalid("inputs are larger than \(Self.maxInputBytes >> 20) MiB")
        }
        for key in inputs.keys where !key.isPythonIdentifier {
            throw .invalid("inputs.\(key) is not a valid Python keyword argument name")
        }
        target = body.target ?? .cloud
        worker = try FieldRules.text(body.worker, "worker", maxLength: 200)
        labels = try FieldRules.strings(body.labels, "labels", maxCount: 32, maxLength: 64) ?? []
        dirs = try Self.checkedDirs(body.dirs, target: target)
        limits = try Self.checked(body.limits ?? Schemas.LimitsInput())
        maxAttempts = try FieldRules.within(body.maxAttempts, "max_attempts", 1...10) ?? 3
        priority = try FieldRules.within(body.priority, "priority", -1000...1000) ?? 0
        idempotencyKey = try FieldRules.text(body.idempotencyKey, "idempotency_key", maxLength: 200)
        sessionID = try FieldRules.text(body.sessionID, "session_id", maxLength: 64)
        let selections = body.files ?? []
        guard selections.count <= Self.maxFiles else {
            throw .invalid("files must be an array of at most \(Self.maxFiles) file ids or {id, name} objects")
        }
        files = []
        for (index, selection) in selections.enumerated() {
            guard !selection.id.isEmpty, selection.id.utf8.count <= 64 else { throw .invalid("files[\(index)] must be a file id or {id, name}") }
            let name = try selection.name.map { name throws(APIError) in try FieldRules.fileName(name, "files[\(index)].name") }
            files.append(FileRequest(id: selection.id, name: name))
        }
    }

    /// The shared folders a job names: folder names (`FolderName`), distinct, at most
    /// `FolderName.maxPerJob`, and only for a private job, since only a desktop shares folders.
    static func checkedDirs(_ names: [String]?, target: JobTarget) throws(APIError) -> [String] {
        func invalid(_ message: String, path: String) -> APIError {
            var error = APIError.invalid(message)
            error.path = path
            return error
        }
        guard let names, !names.isEmpty else { return [] }
        guard target == .private else {
            throw invalid(
                "dirs names folders that a desktop shares with its user's private jobs (agentos desktop attach --dir): submit with target \"private\"; cloud workers share no folders",
                path: "dirs")
        }
        guard names.count <= FolderName.maxPerJob else {
            throw invalid("dirs has \(names.count) entries; a job may name at most \(FolderName.maxPerJob) folders", path: "dirs")
        }
        var seen: Set<String> = []
        for (index, name) in names.enumerated() {
            guard FolderName.isValid(name) else {
                throw invalid(
                    "dirs[\(index)] is not a folder name (\(FolderName.rule)): name a folder the desktop shares by its name, the last part of its path, which the job sees at /mnt/<name>",
                    path: "dirs[\(index)]")
            }
            guard seen.insert(name).inserted else { throw invalid("dirs names \(name) twice", path: "dirs[\(index)]") }
        }
        return names
    }

    /// Limits within what the bus allows, as a 400 naming the field otherwise.
    static func checked(_ limits: Schemas.LimitsInput, field: String = "limits") throws(APIError) -> Schemas.LimitsInput {
        do {
            return try LimitRanges.bus.check(limits, field: field)
        } catch {
            var failure = APIError.invalid(error.description)
            failure.path = error.path
            throw failure
        }
    }
}
