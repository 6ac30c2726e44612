import AgentOSStore
import AgentOSWire

/// A validated job submission body; the skill, files and session it names are resolved by
/// the handler, which knows the project.
struct JobRequest: Equatable {
    enum Source: Equatable {
        case code(String)
        case skill(name: String, version: Int?)
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
    var limits: LimitsRequest
    var maxAttempts: Int
    var priority: Int
    var idempotencyKey: String?
    var files: [FileRequest]
    var sessionID: String?

    static let maxInputBytes = 4 << 20
    static let maxFiles = 64

    /// Parses and checks a submit body; every problem is a 400 naming the field.
    static func parse(_ body: JSONValue?) throws(APIError) -> JobRequest {
        let reader = try BodyReader(body)
        let source: Source
        switch (reader.has("skill"), reader.has("code")) {
        case (true, true), (false, false):
            throw .invalid("give exactly one of skill (a registered skill's name) and code (Python source)")
        case (false, true):
            if reader.has("version") { throw .invalid("version goes with skill, not with code") }
            source = .code(try reader.string("code", maxLength: APIHandler.maxCodeBytes, required: true) ?? "")
        case (true, false):
            var name = try reader.string("skill", maxLength: 80, required: true) ?? ""
            var version = try reader.int("version", in: 1...1_000_000)
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
        let inputs = try reader.object("inputs") ?? [:]
        if JSONValue.object(inputs).encoded().count > maxInputBytes {
            throw .invalid("inputs are larger than \(maxInputBytes >> 20) MiB")
        }
        for key in inputs.keys where !key.isPythonIdentifier {
            throw .invalid("inputs.\(key) is not a valid Python keyword argument name")
        }
        var target = JobTarget.cloud
        if let text = try reader.string("target", maxLength: 16) {
            guard let parsed = JobTarget(rawValue: text) else { throw .invalid("target must be \"cloud\" or \"private\"") }
            target = parsed
        }
        return JobRequest(
            source: source, inputs: inputs, target: target,
            worker: try reader.string("worker", maxLength: 200),
            labels: try reader.strings("labels", maxCount: 32, maxLength: 64) ?? [],
            limits: try LimitsRequest.parse(try reader.object("limits")),
            maxAttempts: try reader.int("max_attempts", in: 1...10) ?? 3,
            priority: try reader.int("priority", in: -1000...1000) ?? 0,
            idempotencyKey: try reader.string("idempotency_key", maxLength: 200),
            files: try files(reader),
            sessionID: try reader.string("session_id", maxLength: 64))
    }

    private static func files(_ reader: BodyReader) throws(APIError) -> [FileRequest] {
        guard let value = reader.fields["files"], !value.isNull else { return [] }
        guard let items = value.arrayValue, items.count <= maxFiles else {
            throw .invalid("files must be an array of at most \(maxFiles) file ids or {id, name} objects")
        }
        var out: [FileRequest] = []
        for (index, item) in items.enumerated() {
            if let id = item.stringValue, !id.isEmpty, id.utf8.count <= 64 {
                out.append(FileRequest(id: id, name: nil))
            } else if let fields = item.objectValue, let id = fields["id"]?.stringValue, !id.isEmpty, id.utf8.count <= 64 {
                let name = fields["name"]?.stringValue
                if let name, !name.isSafeFileName { throw .invalid("files[\(index)].name must be a plain file name") }
                out.append(FileRequest(id: id, name: name))
            } else {
                throw .invalid("files[\(index)] must be a file id or {id, name}")
            }
        }
        return out
    }
}

extension String {
    /// Whether this is a plain file name: no directories, not `.` or `..`, no control characters.
    var isSafeFileName: Bool {
        !isEmpty && utf8.count <= 255 && self != "." && self != ".." && !contains("/") && !contains("\\")
            && !unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
    }
}
