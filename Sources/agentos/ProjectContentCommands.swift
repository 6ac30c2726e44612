import AgentOSAPI
import AgentOSClient
import AgentOSWire
import ArgumentParser
import Foundation

// MARK: Files

struct FilesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files", abstract: "A project's files, for jobs to read.",
        subcommands: [Upload.self, List.self, Get.self, Download.self, Delete.self])

    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "upload", abstract: "Upload a file (editor); jobs get it with submit --file ID.")
        @Argument(help: "The file to upload") var file: String
        @OptionGroup var project: ProjectOption
        @Option(help: "Its name in the project (default: the file's name)") var name: String?
        @Option(help: "Its media type, e.g. text/csv (default application/octet-stream)") var contentType: String?
        @OptionGroup var output: OutputOptions
        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            let answer = try await API.client().send(
                "POST", try project.path + "/files", query: ["name": name ?? (file as NSString).lastPathComponent], rawBody: data,
                contentType: contentType, timeout: 600)
            API.printObject(answer, output: output)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List a project's files.")
        @OptionGroup var project: ProjectOption
        @Option(help: "How many (1-200)") var limit: Int = 50
        @Option(help: "Continue after a previous page (its next cursor)") var cursor: String?
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var query = ["limit": String(limit)]
            if let cursor { query["cursor"] = cursor }
            API.printList(try await API.send("GET", try project.path + "/files", query: query), key: "files", columns: [
                ("ID", "id"), ("NAME", "name"), ("SIZE", "size"), ("SHA256", "sha256"), ("CREATED", "created_at"),
            ], output: output)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "A file's metadata.")
        @Argument(help: "The file's id") var id: String
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printObject(try await API.send("GET", "/api/v1/files/\(id.pathEscaped)"), output: output)
        }
    }

    struct Download: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "download", abstract: "Write a file's bytes to --output, or to standard output.")
        @Argument(help: "The file's id") var id: String
        @Option(name: .shortAndLong, help: "Where to write it (default: standard output)") var output: String?
        func run() async throws {
            let data = try await API.client().download("/api/v1/files/\(id.pathEscaped)/content", timeout: 600)
            if let output {
                try data.write(to: URL(fileURLWithPath: output))
                FileHandle.standardError.write(Data("agentos: wrote \(data.count) bytes to \(output)\n".utf8))
            } else {
                try FileHandle.standardOutput.write(contentsOf: data)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a file (editor).")
        @Argument(help: "The file's id") var id: String
        func run() async throws {
            _ = try await API.send("DELETE", "/api/v1/files/\(id.pathEscaped)")
            print("deleted \(id)")
        }
    }
}

// MARK: Personal access tokens

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Your personal access tokens (for CI: agentos login --token-stdin).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Make a token; it is shown this once.")
        @Argument(help: "What it is for") var name: String
        @Option(help: "Seconds until it expires (default: never)") var expiresIn: Int?
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var body: [String: JSONValue] = ["name": .string(name)]
            if let expiresIn { body["expires_in"] = .number(Double(expiresIn)) }
            let answer = try await API.send("POST", "/api/v1/tokens", body: .object(body))
            guard !output.json else { return API.printObject(answer, output: output) }
            print(API.cell(answer["token"]))
            FileHandle.standardError.write(Data("agentos: token \(API.cell(answer["id"])) made; it is shown only this once\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List your tokens (never their secrets).")
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printList(try await API.send("GET", "/api/v1/tokens"), key: "tokens", columns: [
                ("ID", "id"), ("NAME", "name"), ("PREFIX", "prefix"), ("EXPIRES", "expires_at"), ("LAST USED", "last_used_at"), ("REVOKED", "revoked"),
            ], output: output)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token: it stops working at once.")
        @Argument(help: "The token's id") var id: String
        func run() async throws {
            _ = try await API.send("DELETE", "/api/v1/tokens/\(id.pathEscaped)")
            print("revoked \(id)")
        }
    }
}

// MARK: Model providers and agents

struct ProvidersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "providers", abstract: "A project's model providers (keys encrypted at rest, never listed).",
        subcommands: [List.self, Create.self, Show.self, Update.self, Reveal.self])

    static let columns = [("NAME", "name"), ("KIND", "kind"), ("BASE URL", "base_url"), ("MODELS", "models"), ("KEY", "has_api_key")]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List providers.")
        @OptionGroup var project: ProjectOption
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printList(try await API.send("GET", try project.path + "/providers"), key: "providers", columns: ProvidersCommand.columns, output: output)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Add a provider (editor); with --api-key-stdin its key is read from standard input.")
        @Argument(help: "Its name") var name: String
        @OptionGroup var project: ProjectOption
        @Option(help: "Its kind, e.g. openai") var kind: String
        @Option(help: "Its API's base URL") var baseURL: String
        @Option(help: "Comma-separated model names") var models: String?
        @Flag(help: "Read its API key from standard input") var apiKeyStdin = false
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var body: [String: JSONValue] = ["name": .string(name), "kind": .string(kind), "base_url": .string(baseURL)]
            if let models { body["models"] = API.list(models) }
            if apiKeyStdin { body["api_key"] = .string(try API.readSecret("API key")) }
            API.printObject(try await API.send("POST", try project.path + "/providers", body: .object(body)), output: output)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "A provider (no key).")
        @Argument(help: "Its name") var name: String
        @OptionGroup var project: ProjectOption
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printObject(try await API.send("GET", try project.path + "/providers/\(name.pathEscaped)"), output: output)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Change a provider or its key (editor).")
        @Argument(help: "Its name") var name: String
        @OptionGroup var project: ProjectOption
        @Option(help: "Its kind") var kind: String?
        @Option(help: "Its API's base URL") var baseURL: String?
        @Option(help: "Comma-separated model names") var models: String?
        @Flag(help: "Read a new API key from standard input") var apiKeyStdin = false
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var body: [String: JSONValue] = [:]
            if let kind { body["kind"] = .string(kind) }
            if let baseURL { body["base_url"] = .string(baseURL) }
            if let models { body["models"] = API.list(models) }
            if apiKeyStdin { body["api_key"] = .string(try API.readSecret("API key")) }
            guard !body.isEmpty else { throw ValidationError("give --kind, --base-url, --models or --api-key-stdin") }
            API.printObject(try await API.send("PUT", try project.path + "/providers/\(name.pathEscaped)", body: .object(body)), output: output)
        }
    }

    struct Reveal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reveal", abstract: "Print a provider's API key (runner; the server audits it).")
        @Argument(help: "Its name") var name: String
        @OptionGroup var project: ProjectOption
        @OptionGroup var output: OutputOptions
        func run() async throws {
            let answer = try await API.send("POST", try project.path + "/providers/\(name.pathEscaped)/reveal")
            output.json ? print(answer.prettyString) : print(API.cell(answer["api_key"]))
        }
    }
}

struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents", abstract: "A project's agents: a provider, a model, a system prompt, skills.",
        subcommands: [List.self, Create.self, Show.self, Update.self, Versions.self])

    /// The fields `create` and `update` share.
    struct Fields: ParsableArguments {
        @Option(help: "Its provider's name") var provider: String?
        @Option(help: "The model") var model: String?
        @Option(help: "The system prompt") var systemPrompt: String?
        @Option(help: "Comma-separated skill names it may use") var skills: String?
        @Option(help: "Model parameters as a JSON object, e.g. '{\"temperature\": 0.2}'") var params: String?

        func body() throws -> [String: JSONValue] {
            var body: [String: JSONValue] = [:]
            if let provider { body["provider"] = .string(provider) }
            if let model { body["model"] = .string(model) }
            if let systemPrompt { body["system_prompt"] = .string(systemPrompt) }
            if let skills { body["skills"] = API.list(skills) }
            if let params {
                guard let object = (try? JSONValue.parse(Data(params.utf8)))?.objectValue else { throw ValidationError("--params must be a JSON object") }
                body["params"] = .object(object)
            }
            return body
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List agents.")
        @OptionGroup var project: ProjectOption
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printList(try await API.send("GET", try project.path + "/agents"), key: "agents", columns: [
                ("NAME", "name"), ("VERSION", "version"), ("PROVIDER", "provider"), ("MODEL", "model"), ("SKILLS", "skills"),
            ], output: output)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create an agent (editor).")
        @Argument(help: "Its name") var name: String
        @OptionGroup var project: ProjectOption
        @OptionGroup var fields: Fields
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var body = try fields.body()
            body["name"] = .string(name)
            API.printObject(try await API.send("POST", try project.path + "/agents", body: .object(body)), output: output)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "An agent.")
        @Argument(help: "Its name") var name: String
        @OptionGroup var project: ProjectOption
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printObject(try await API.send("GET", try project.path + "/agents/\(name.pathEscaped)"), output: output)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Change an agent; its old settings stay in its history (editor).")
        @Argument(help: "Its name") var name: String
        @OptionGroup var project: ProjectOption
        @OptionGroup var fields: Fields
        @OptionGroup var output: OutputOptions
        func run() async throws {
            let body = try fields.body()
            guard !body.isEmpty else { throw ValidationError("give what to change: --provider, --model, --system-prompt, --skills or --params") }
            API.printObject(try await API.send("PUT", try project.path + "/agents/\(name.pathEscaped)", body: .object(body)), output: output)
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "versions", abstract: "An agent's history, newest first.")
        @Argument(help: "Its name") var name: String
        @OptionGroup var project: ProjectOption
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printList(try await API.send("GET", try project.path + "/agents/\(name.pathEscaped)/versions"), key: "versions", columns: [
                ("VERSION", "version"), ("PROVIDER", "provider"), ("MODEL", "model"), ("SYSTEM PROMPT", "system_prompt"), ("AT", "created_at"),
            ], output: output)
        }
    }
}

// MARK: Chat sessions

struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions", abstract: "Chat sessions and their messages.", subcommands: [List.self, Create.self, Show.self, Messages.self, Say.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List a project's sessions.")
        @OptionGroup var project: ProjectOption
        @Option(help: "How many (1-200)") var limit: Int = 50
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printList(try await API.send("GET", try project.path + "/sessions", query: ["limit": String(limit)]), key: "sessions", columns: [
                ("ID", "id"), ("TITLE", "title"), ("AGENT", "agent"), ("UPDATED", "updated_at"),
            ], output: output)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Start a session (runner).")
        @OptionGroup var project: ProjectOption
        @Option(help: "Its title") var title: String?
        @Option(help: "The agent it talks to") var agent: String?
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var body: [String: JSONValue] = [:]
            if let title { body["title"] = .string(title) }
            if let agent { body["agent"] = .string(agent) }
            API.printObject(try await API.send("POST", try project.path + "/sessions", body: .object(body)), output: output)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "A session.")
        @Argument(help: "The session's id") var id: String
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printObject(try await API.send("GET", "/api/v1/sessions/\(id.pathEscaped)"), output: output)
        }
    }

    struct Messages: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "messages", abstract: "A session's messages, in order.")
        @Argument(help: "The session's id") var id: String
        @Option(help: "After this message's seq") var after: Int?
        @Option(help: "How many (1-200)") var limit: Int = 100
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var query = ["limit": String(limit)]
            if let after { query["after"] = String(after) }
            API.printList(try await API.send("GET", "/api/v1/sessions/\(id.pathEscaped)/messages", query: query), key: "messages", columns: [
                ("SEQ", "seq"), ("ROLE", "role"), ("CONTENT", "content"), ("JOB", "job_id"),
            ], output: output)
        }
    }

    struct Say: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "say", abstract: "Append a message (runner).")
        @Argument(help: "The session's id") var id: String
        @Argument(help: "What it says") var content: String
        @Option(help: "user, assistant, system or tool (default user)") var role: String = "user"
        @Option(help: "A job it refers to") var job: String?
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var body: [String: JSONValue] = ["role": .string(role), "content": .string(content)]
            if let job { body["job_id"] = .string(job) }
            API.printObject(try await API.send("POST", "/api/v1/sessions/\(id.pathEscaped)/messages", body: .object(body)), output: output)
        }
    }
}

// MARK: Worker tokens (admin) and the audit log

struct WorkerTokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker-tokens", abstract: "Tokens cloud workers connect with (admin).", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Make a worker token; it is shown this once.")
        @Argument(help: "What it is for") var name: String
        @Option(help: "Comma-separated labels its workers may claim (default: any)") var labels: String?
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var body: [String: JSONValue] = ["name": .string(name)]
            if let labels { body["labels"] = API.list(labels) }
            let answer = try await API.send("POST", "/api/v1/worker-tokens", body: .object(body))
            guard !output.json else { return API.printObject(answer, output: output) }
            print(API.cell(answer["token"]))
            FileHandle.standardError.write(Data("agentos: worker token \(API.cell(answer["id"])) made; it is shown only this once\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List worker tokens (never their secrets).")
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printList(try await API.send("GET", "/api/v1/worker-tokens"), key: "worker_tokens", columns: [
                ("ID", "id"), ("NAME", "name"), ("LABELS", "labels"), ("CREATED", "created_at"), ("REVOKED", "revoked"),
            ], output: output)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a worker token; its workers are disconnected at once.")
        @Argument(help: "The token's id") var id: String
        func run() async throws {
            _ = try await API.send("DELETE", "/api/v1/worker-tokens/\(id.pathEscaped)")
            print("revoked \(id)")
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "The audit log, newest first (admin).")
    @Option(help: "Only this action, e.g. auth.login_failed or provider.reveal; a prefix ending in a dot (auth.) takes a family") var action: String?
    @Option(help: "How many (1-200)") var limit: Int = 50
    @Option(help: "Continue after a previous page (its next cursor)") var cursor: String?
    @OptionGroup var output: OutputOptions
    func run() async throws {
        var query = ["limit": String(limit)]
        if let action { query["action"] = action }
        if let cursor { query["cursor"] = cursor }
        API.printList(try await API.send("GET", "/api/v1/audit", query: query), key: "entries", columns: [
            ("AT", "at"), ("ACTION", "action"), ("ACTOR", "actor_email"), ("TARGET", "target"), ("ADDRESS", "address"),
        ], output: output)
    }
}
