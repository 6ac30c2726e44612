import AgentOSAPI
import AgentOSClient
import AgentOSWire
import ArgumentParser
import Foundation
import Yams

struct SkillsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skills", abstract: "Push, list and show a project's skills.", subcommands: [Push.self, List.self, Show.self])

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "push",
            abstract: "Upload a skill from a folder: skill.yaml, main.py and an optional requirements.txt.",
            discussion: """
                skill.yaml holds name, and optionally description, entrypoint (default main), \
                input_schema (JSON Schema of the inputs), limits (timeout_s, memory_mb, max_output_kb, network) \
                and requirements (a list; requirements.txt is used when absent). The first push creates the \
                skill; later pushes add a version, or return the existing one when nothing changed.
                """)
        @Argument(help: "The skill's folder") var directory: String
        @Option(help: "Project name or id (AGENTOS_PROJECT)") var project: String?

        func run() async throws {
            guard let project = Settings.value(project, env: "PROJECT") else { throw ValidationError("give the project with --project") }
            var body = try SkillFolder.read(directory)
            guard let name = body.name else { throw ValidationError("skill.yaml must give the skill's name") }
            let client = try GatewayClient(credentials: try await ConfigDirectory().freshCredentials())
            let base = "/api/v1/projects/\(project.pathEscaped)/skills"
            var number: Int?
            var created = true
            do {
                body.name = nil
                let version = try await client.send("POST", "\(base)/\(name.pathEscaped)/versions", body: body, as: Schemas.SkillVersion.self)
                (number, created) = (version.version, version.created ?? true)
            } catch ClientError.http(let status, let code, _) where status == 404 && code == "not_found" {
                body.name = name
                number = try await client.send("POST", base, body: body, as: Schemas.Skill.self).latest?.version
            }
            print(created ? "pushed \(name) version \(number ?? 0)" : "\(name) is unchanged: version \(number ?? 0)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List a project's skills.")
        @Option(help: "Project name or id (AGENTOS_PROJECT)") var project: String?

        func run() async throws {
            guard let project = Settings.value(project, env: "PROJECT") else { throw ValidationError("give the project with --project") }
            let client = try GatewayClient(credentials: try await ConfigDirectory().freshCredentials())
            let answer = try await client.send("GET", "/api/v1/projects/\(project.pathEscaped)/skills", as: Schemas.SkillList.self)
            let rows = answer.skills.map { [$0.name, String($0.latestVersion), $0.description] }
            print(Table.render(header: ["NAME", "VERSION", "DESCRIPTION"], rows: rows))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a skill version (default: the latest).")
        @Argument(help: "NAME or NAME@VERSION") var skill: String
        @Option(help: "Project name or id (AGENTOS_PROJECT)") var project: String?

        func run() async throws {
            guard let project = Settings.value(project, env: "PROJECT") else { throw ValidationError("give the project with --project") }
            let client = try GatewayClient(credentials: try await ConfigDirectory().freshCredentials())
            let parts = skill.split(separator: "@", maxSplits: 1).map(String.init)
            let base = "/api/v1/projects/\(project.pathEscaped)/skills/\(parts[0].pathEscaped)"
            let answer: Schemas.SkillVersion?
            if parts.count == 2 {
                guard Int(parts[1]) != nil else { throw ValidationError("the version after @ must be a number") }
                answer = try await client.send("GET", "\(base)/versions/\(parts[1])", as: Schemas.SkillVersion.self)
            } else {
                answer = try await client.send("GET", base, as: Schemas.Skill.self).latest
            }
            print(try answer.prettyString)
        }
    }
}

/// Reads a skill folder into a create/version body.
enum SkillFolder {
    static func read(_ directory: String) throws -> Schemas.SkillInput {
        let manifestPath = ["skill.yaml", "skill.yml"].map { "\(directory)/\($0)" }.first { FileManager.default.fileExists(atPath: $0) }
        guard let manifestPath, let manifestData = FileManager.default.contents(atPath: manifestPath) else {
            throw ValidationError("\(directory) has no skill.yaml")
        }
        let manifest: Any?
        do {
            manifest = try Yams.load(yaml: String(decoding: manifestData, as: UTF8.self))
        } catch {
            throw ValidationError("\(manifestPath) is not valid YAML: \(error)")
        }
        guard let fields = manifest as? [String: Any] else { throw ValidationError("\(manifestPath) must be a mapping") }
        var body: [String: JSONValue] = [:]
        for (key, value) in fields {
            guard let json = JSONValue(yaml: value) else { throw ValidationError("\(manifestPath): \(key) has a value JSON cannot hold") }
            body[key] = json
        }
        let codePath = "\(directory)/\(body["code_file"]?.stringValue ?? "main.py")"
        body["code_file"] = nil
        guard let code = FileManager.default.contents(atPath: codePath) else { throw ValidationError("cannot read \(codePath)") }
        body["code"] = .string(String(decoding: code, as: UTF8.self))
        if body["requirements"] == nil, let requirements = FileManager.default.contents(atPath: "\(directory)/requirements.txt") {
            body["requirements"] = .string(String(decoding: requirements, as: UTF8.self))
        }
        do {
            return try APICoding.decode(Schemas.SkillInput.self, from: .object(body))
        } catch {
            throw ValidationError("\(manifestPath): \(error)")
        }
    }
}

extension JSONValue {
    /// Converts what Yams loads (dictionaries, arrays, strings, numbers, booleans, null).
    init?(yaml value: Any?) {
        switch value {
        case nil, is NSNull: self = .null
        case let flag as Bool: self = .bool(flag)
        case let number as Int: self = .number(Double(number))
        case let number as Double: self = .number(number)
        case let text as String: self = .string(text)
        case let list as [Any]:
            var items: [JSONValue] = []
            for item in list {
                guard let converted = JSONValue(yaml: item) else { return nil }
                items.append(converted)
            }
            self = .array(items)
        case let map as [String: Any]:
            var fields: [String: JSONValue] = [:]
            for (key, item) in map {
                guard let converted = JSONValue(yaml: item) else { return nil }
                fields[key] = converted
            }
            self = .object(fields)
        case let map as [AnyHashable: Any]:
            var fields: [String: JSONValue] = [:]
            for (key, item) in map {
                guard let converted = JSONValue(yaml: item) else { return nil }
                fields["\(key)"] = converted
            }
            self = .object(fields)
        default:
            return nil
        }
    }
}
