import AgentOSWire
import Foundation

extension SystemRole: SchemaLeaf {}
extension TeamRole: SchemaLeaf {}
extension ProjectRole: SchemaLeaf {}
extension MessageRole: SchemaLeaf {}
extension JobTarget: SchemaLeaf {}
extension JobOrigin: SchemaLeaf {}
extension WorkerKind: SchemaLeaf {}

/// The API's body types, by resource (`Models/`): what handlers decode and answer, what the
/// clients read, and what the API document is derived from.
public enum Schemas {}

extension Schemas {
    /// Every error answer: `{"error": {"code", "message"}}`, plus `path` when one field is at fault.
    public struct ErrorBody: APISchema, Equatable {
        public static var schemaName: String { "Error" }

        /// The error itself.
        public var error: Detail

        /// What went wrong.
        public struct Detail: Codable, Sendable, Equatable {
            /// Machine-readable, e.g. `invalid_request`, `not_found`.
            public var code: String
            /// For people.
            public var message: String
            /// The field at fault, e.g. `inputs.n`.
            public var path: String?

            public init(code: String, message: String, path: String? = nil) {
                self.code = code
                self.message = message
                self.path = path
            }
        }

        public init(code: String, message: String, path: String? = nil) {
            error = Detail(code: code, message: message, path: path)
        }
    }

    /// A skill's pip requirements: one string in `requirements.txt` form, or one line per entry.
    public struct Requirements: Codable, Sendable, Equatable, SchemaLeaf {
        /// The lines, joined with newlines.
        public var text: String
        /// The entries, when they were given as an array.
        public var lines: [String]?

        public init(_ text: String) {
            self.text = text
        }

        public init(lines: [String]) {
            self.lines = lines
            text = lines.joined(separator: "\n")
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let lines = try? container.decode([String].self) {
                self.init(lines: lines)
            } else {
                self.init(try container.decode(String.self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            if let lines { try container.encode(lines) } else { try container.encode(text) }
        }

        public static var jsonSchema: JSONValue { ["oneOf": [["type": "string"], ["type": "array", "items": ["type": "string"]]]] }
        public static var schemaSample: Requirements { Requirements("") }
    }

    /// A file given to a job at submit: a file id, or `{"id", "name"}` to place it under another name.
    public struct FileSelection: Codable, Sendable, Equatable, SchemaLeaf {
        /// The stored file's id.
        public var id: String
        /// The name under `files/`; the file's own name when absent.
        public var name: String?

        public init(id: String, name: String? = nil) {
            self.id = id
            self.name = name
        }

        private enum CodingKeys: String, CodingKey {
            case id, name
        }

        public init(from decoder: any Decoder) throws {
            if let id = try? decoder.singleValueContainer().decode(String.self) {
                self.init(id: id)
                return
            }
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(id: try container.decode(String.self, forKey: .id), name: try container.decodeIfPresent(String.self, forKey: .name))
        }

        public func encode(to encoder: any Encoder) throws {
            guard let name else {
                var container = encoder.singleValueContainer()
                try container.encode(id)
                return
            }
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(name, forKey: .name)
        }

        public static var jsonSchema: JSONValue {
            ["oneOf": [["type": "string"], ["type": "object", "required": ["id"], "properties": ["id": ["type": "string"], "name": ["type": "string"]]]]]
        }
        public static var schemaSample: FileSelection { FileSelection(id: "") }
    }

    /// `POST /projects/{project}/runs`: one run record, an array of them, or `{"runs": [...]}`.
    public struct RunsRequest: Codable, Sendable, Equatable, SchemaLeaf {
        /// The records, in order.
        public var runs: [RunRecord]

        public init(runs: [RunRecord]) {
            self.runs = runs
        }

        private enum CodingKeys: String, CodingKey {
            case runs
        }

        public init(from decoder: any Decoder) throws {
            if var array = try? decoder.unkeyedContainer() {
                var runs: [RunRecord] = []
                while !array.isAtEnd { runs.append(try array.decode(RunRecord.self)) }
                self.runs = runs
            } else if let container = try? decoder.container(keyedBy: CodingKeys.self), container.contains(.runs) {
                runs = try container.decode([RunRecord].self, forKey: .runs)
            } else {
                runs = [try RunRecord(from: decoder)]
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(runs, forKey: .runs)
        }

        public static var jsonSchema: JSONValue {
            let record: JSONValue = ["$ref": "#/components/schemas/RunRecord"]
            return ["oneOf": [record, ["type": "array", "items": record], ["type": "object", "required": ["runs"], "properties": ["runs": ["type": "array", "items": record]]]]]
        }
        public static var schemaSample: RunsRequest { RunsRequest(runs: []) }
        public static var schemaDependencies: [any Decodable.Type] { [RunRecord.self] }
    }
}
