import AgentOSAPI
import AgentOSClient
import AgentOSWire
import ArgumentParser
import Foundation

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "login", abstract: "Log in to a gateway and store the credentials (mode 0600).")

    @Option(help: "Gateway URL, e.g. http://127.0.0.1:8080 (AGENTOS_GATEWAY)") var gateway: String?
    @Option(help: "Account email (AGENTOS_EMAIL)") var email: String?
    @Flag(help: "Read the password from standard input") var passwordStdin = false
    @Flag(help: "Log in with a personal access token read from standard input (for CI), instead of an email and password")
    var tokenStdin = false

    func validate() throws {
        if tokenStdin, email != nil || passwordStdin { throw ValidationError("--token-stdin takes no --email or --password-stdin") }
    }

    func run() async throws {
        guard let gateway = Settings.value(gateway, env: "GATEWAY"), let url = URL(string: gateway), url.scheme != nil else {
            throw ValidationError("give the gateway URL with --gateway (e.g. http://127.0.0.1:8080)")
        }
        if tokenStdin {
            let token = try API.readSecret("personal access token")
            let credentials = try await GatewayClient(baseURL: url).credentials(personalAccessToken: token)
            let directory = ConfigDirectory()
            try directory.save(credentials)
            print("logged in as \(credentials.email) with a personal access token; credentials saved in \(directory.credentialsPath)")
            return
        }
        guard let email = Settings.value(email, env: "EMAIL") else { throw ValidationError("give the account with --email (or a token with --token-stdin)") }
        let password: String
        if passwordStdin {
            password = (readLine(strippingNewline: true) ?? "")
        } else if let fromEnv = Settings.environment("PASSWORD") {
            password = fromEnv
        } else {
            guard let typed = getpass("Password for \(email): ") else { throw CommandFailed(message: "no password given") }
            password = String(cString: typed)
        }
        guard !password.isEmpty else { throw CommandFailed(message: "the password is empty") }
        let credentials = try await GatewayClient(baseURL: url).login(email: email, password: password)
        let directory = ConfigDirectory()
        try directory.save(credentials)
        print("logged in as \(email); credentials saved in \(directory.credentialsPath)")
    }
}

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "submit", abstract: "Submit a job and, with --wait, wait for its outcome.")

    @Option(help: "Project name or id (AGENTOS_PROJECT)") var project: String?
    @Option(name: .customShort("c"), help: "Python source to run") var command: String?
    @Option(help: "File with the Python source to run") var code: String?
    @Option(help: "A registered skill to run: NAME or NAME@VERSION (default: latest)") var skill: String?
    @Option(help: "Inputs as a JSON object, passed to main(**inputs)") var input: String?
    @Option(help: "cloud or private") var target: String?
    @Option(help: "Run on the worker with this name or id") var worker: String?
    @Option(help: "Comma-separated labels the worker must carry") var labels: String?
    @Option(
        name: .customLong("dir"),
        help: ArgumentHelp(
            "A folder your desktop shares (desktop attach --dir), by its name; the job sees it at /mnt/NAME. Repeatable; needs --target private",
            valueName: "NAME"))
    var dirs: [String] = []
    @Option(help: "Wall-time limit in seconds") var timeout: Double?
    @Option(help: "Memory limit in MiB") var memoryMb: Int?
    @Option(help: "Output kept per stream, in KiB") var maxOutputKb: Int?
    @Flag(help: "Let the job use the network (if its project allows it)") var network = false
    @Option(
        name: .customLong("file"),
        help: ArgumentHelp("A project file the job reads under files/ (files upload), as ID or ID:NAME. Repeatable", valueName: "ID[:NAME]"))
    var files: [String] = []
    @Option(help: "Higher runs sooner (0 by default; how high depends on your role)") var priority: Int?
    @Option(help: "A key that makes resubmitting the same job return the first one") var idempotencyKey: String?
    @Option(help: "The chat session the job belongs to") var session: String?
    @Option(help: "Attempts before the job fails (when workers are lost)") var maxAttempts: Int?
    @Flag(help: "Wait for the job to finish, printing its stdout and stderr as they come; exit 1 unless it succeeded") var wait = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if [command, code, skill].compactMap({ $0 }).count != 1 {
            throw ValidationError("give exactly one of --skill NAME[@V], -c CODE and --code FILE")
        }
        if worker != nil, target != JobTarget.private.rawValue {
            throw ValidationError("--worker names one of your desktops, which take only private jobs: add --target private (cloud jobs go to any cloud worker)")
        }
        if !dirs.isEmpty, target != JobTarget.private.rawValue {
            throw ValidationError("--dir names a folder your desktop shares, so the job must run there: add --target private")
        }
        if let bad = dirs.first(where: { !FolderName.isValid($0) }) {
            throw ValidationError("--dir \(bad) is not a folder name (\(FolderName.rule)): give the name of a folder the desktop shares, the last part of its path, not a path")
        }
    }

    func run() async throws {
        guard let project = Settings.value(project, env: "PROJECT") else { throw ValidationError("give the project with --project") }
        let credentials = try await ConfigDirectory().freshCredentials()
        let client = try GatewayClient(credentials: credentials)
        var body = Schemas.JobSubmit()
        if let skill { body.skill = skill } else { body.code = try source() }
        if let input {
            guard let parsed = try? JSONValue.parse(Data(input.utf8)), let inputs = parsed.objectValue else {
                throw ValidationError("--input must be a JSON object, e.g. '{\"n\": 1000}'")
            }
            body.inputs = inputs
        }
        if let target {
            guard let chosen = JobTarget(rawValue: target) else { throw ValidationError("--target must be cloud or private") }
            body.target = chosen
        }
        body.worker = worker
        body.labels = labels.map { $0.split(separator: ",").map(String.init) }
        if !dirs.isEmpty { body.dirs = dirs }
        if timeout != nil || memoryMb != nil || maxOutputKb != nil || network {
            body.limits = Schemas.LimitsInput(timeoutSeconds: timeout, maxOutputKB: maxOutputKb, memoryMB: memoryMb, network: network ? true : nil)
        }
        if !files.isEmpty {
            body.files = files.map { given in
                let parts = given.split(separator: ":", maxSplits: 1).map(String.init)
                return Schemas.FileSelection(id: parts[0], name: parts.count > 1 ? parts[1] : nil)
            }
        }
        body.priority = priority
        body.idempotencyKey = idempotencyKey
        body.sessionID = session
        body.maxAttempts = maxAttempts
        let path = "/api/v1/projects/\(project.pathEscaped)/jobs"
        var job = try await client.send("POST", path, body: body, as: Schemas.Job.self)
        for warning in job.warnings ?? [] {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        guard wait else {
            if output.json {
                print(try job.prettyString)
            } else {
                print("job \(job.id) \(job.status.rawValue)\(job.worker.map { " on \($0)" } ?? ""); `agentos jobs logs \(job.id) --follow` prints its output")
            }
            return
        }
        job = try await JobOutput.follow(job.id, client: client)
        try JobOutput.finish(job)
    }

    private func source() throws -> String {
        if let command { return command }
        guard let code, let data = FileManager.default.contents(atPath: code) else {
            throw ValidationError("cannot read the code file \(code ?? ""); use -c to pass source text")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "List, inspect and cancel jobs.", subcommands: [List.self, Get.self, Logs.self, Cancel.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List a project's jobs, newest first.")
        @Option(help: "Project name or id (AGENTOS_PROJECT)") var project: String?
        @Option(help: "Only jobs with this status (queued, running, succeeded, failed, timed_out, cancelled)") var status: String?
        @Option(help: "Only jobs of this skill") var skill: String?
        @Option(help: "server (submitted jobs) or local (desktop runs)") var origin: String?
        @Option(help: "Only jobs of this chat session") var session: String?
        @Option(help: "How many (1-200)") var limit: Int = 20
        @Option(help: "Continue after a previous page (its next cursor)") var cursor: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            guard let project = Settings.value(project, env: "PROJECT") else { throw ValidationError("give the project with --project") }
            var query = ["limit": String(limit)]
            for (key, value) in [("status", status), ("skill", skill), ("origin", origin), ("session_id", session), ("cursor", cursor)] {
                if let value { query[key] = value }
            }
            let answer = try await API.send("GET", "/api/v1/projects/\(project.pathEscaped)/jobs", query: query)
            API.printList(answer, key: "jobs", columns: [
                ("ID", "id"), ("STATUS", "status"), ("ORIGIN", "origin"), ("SKILL", "skill"), ("TARGET", "target"), ("WORKER", "worker"),
                ("CREATED", "created_at"), ("ERROR", "error"),
            ], output: output)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: "Show a job as JSON.")
        @Argument(help: "The job id") var id: String

        func run() async throws {
            let client = try GatewayClient(credentials: try await ConfigDirectory().freshCredentials())
            print(try await client.send("GET", "/api/v1/jobs/\(id.pathEscaped)").prettyString)
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "logs", abstract: "Print a job's stdout and stderr (so far, while it runs); with --follow, as they come until it ends.")
        @Argument(help: "The job id") var id: String
        @Flag(name: .shortAndLong, help: "Keep printing output as the job writes it, until it ends") var follow = false

        func run() async throws {
            let client = try GatewayClient(credentials: try await ConfigDirectory().freshCredentials())
            guard follow else {
                let job = try await client.send("GET", "/api/v1/jobs/\(id.pathEscaped)", as: Schemas.Job.self)
                FileHandle.standardOutput.write(Data((job.stdout ?? "").utf8))
                FileHandle.standardError.write(Data((job.stderr ?? "").utf8))
                return
            }
            _ = try await JobOutput.follow(id, client: client)
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a queued or running job.")
        @Argument(help: "The job id") var id: String

        func run() async throws {
            let client = try GatewayClient(credentials: try await ConfigDirectory().freshCredentials())
            let job = try await client.send("POST", "/api/v1/jobs/\(id.pathEscaped)/cancel", as: Schemas.Job.self)
            print("job \(job.id) \(job.status.rawValue)")
        }
    }
}


struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers", abstract: "List connected workers.")

    @Flag(help: "Print the raw JSON") var json = false

    func run() async throws {
        let client = try GatewayClient(credentials: try await ConfigDirectory().freshCredentials())
        if json {
            print(try await client.send("GET", "/api/v1/workers").prettyString)
            return
        }
        var answer = try await client.send("GET", "/api/v1/workers?limit=1000", as: Schemas.WorkerList.self)
        var workers = answer.workers
        while let cursor = answer.nextCursor {
            answer = try await client.send("GET", "/api/v1/workers?limit=1000&cursor=\(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? cursor)", as: Schemas.WorkerList.self)
            workers += answer.workers
        }
        let rows = workers.map { worker -> [String] in
            [
                worker.name, worker.kind.rawValue, "\(worker.running)/\(worker.slots)", worker.labels.joined(separator: ","),
                (worker.folders ?? []).joined(separator: ","), worker.draining ? "draining" : "online", worker.id,
            ]
        }
        print(Table.render(header: ["NAME", "KIND", "BUSY", "LABELS", "FOLDERS", "STATE", "ID"], rows: rows))
        print("cloud: \(answer.cloud.workers) workers, \(answer.cloud.freeSlots)/\(answer.cloud.slots) slots free")
    }
}

/// A job's output and outcome on the terminal, for `submit --wait` and `jobs logs --follow`.
enum JobOutput {
    /// Prints the job's stdout to stdout and its stderr to stderr as they come, until it
    /// ends; returns the ended job.
    static func follow(_ id: String, client: GatewayClient) async throws -> Schemas.Job {
        try await client.follow(job: id) { stdout, stderr in
            if !stdout.isEmpty { FileHandle.standardOutput.write(Data(stdout.utf8)) }
            if !stderr.isEmpty { FileHandle.standardError.write(Data(stderr.utf8)) }
        } onRestart: { attempt in
            FileHandle.standardError.write(Data("agentos: job \(id) runs again (attempt \(attempt)); its output starts over\n".utf8))
        }
    }

    /// Prints the result of a succeeded job; throws, worded for the terminal, for any other end.
    static func finish(_ job: Schemas.Job) throws {
        guard job.status == .succeeded else {
            let status = job.status.rawValue
            let error = job.error ?? "no error given"
            let reason = error.hasPrefix(status) ? error : "\(status): \(error)"
            throw CommandFailed(message: "job \(job.id) \(reason)")
        }
        Swift.print(job.result.prettyString)
    }
}

/// Left-aligned columns.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}

extension JSONValue {
    /// Indented JSON with sorted keys, for people.
    var prettyString: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

extension Encodable {
    /// The API's JSON of this value, indented, for people.
    var prettyString: String {
        get throws { try JSONValue.parse(APICoding.encode(self)).prettyString }
    }
}
