import AgentOSAPI
import AgentOSClient
import AgentOSWire
import ArgumentParser
import Foundation

/// `--json` for every client command: the API's answer as it is, instead of a table.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the API's JSON answer instead of a table") var json = false
}

/// What the client commands share: the logged-in client, and answers printed as tables (a
/// list) or `FIELD VALUE` lines (one object), or as JSON with `--json`.
enum API {
    /// A client with the stored login, refreshed when needed.
    static func client() async throws -> GatewayClient {
        try GatewayClient(credentials: try await ConfigDirectory().freshCredentials())
    }

    /// Sends a request and returns the answer's JSON.
    static func send(_ method: String, _ path: String, query: [String: String] = [:], body: JSONValue? = nil) async throws -> JSONValue {
        try await client().send(method, path, query: query, body: body)
    }

    /// Prints a list answer: the items under `key` as a table of `columns` (header, JSON
    /// field), or the whole answer with `--json`; a `next_cursor` says how to go on.
    static func printList(_ answer: JSONValue, key: String, columns: [(String, String)], output: OutputOptions) {
        if output.json {
            print(answer.prettyString)
            return
        }
        let items = answer[key]?.arrayValue ?? []
        guard !items.isEmpty else {
            print("none")
            return
        }
        print(Table.render(header: columns.map(\.0), rows: items.map { item in columns.map { cell(item[$0.1]) } }))
        if let next = answer["next_cursor"]?.stringValue { print("more: --cursor \(next)") }
    }

    /// Prints one object: `FIELD  VALUE` lines (nested values as compact JSON), or JSON.
    static func printObject(_ answer: JSONValue, output: OutputOptions) {
        if output.json {
            print(answer.prettyString)
            return
        }
        guard let fields = answer.objectValue, !fields.isEmpty else {
            print(answer.prettyString)
            return
        }
        let keys = fields.keys.sorted()
        print(Table.render(header: ["FIELD", "VALUE"], rows: keys.map { [$0, cell(fields[$0])] }))
    }

    /// A JSON value as one table cell.
    static func cell(_ value: JSONValue?) -> String {
        guard let value else { return "-" }
        switch value {
        case .null: return "-"
        case .string(let text): return text.replacingOccurrences(of: "\n", with: " ")
        case .bool(let flag): return flag ? "yes" : "no"
        case .number(let number): return number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
        case .array(let items): return items.map { cell($0) }.joined(separator: ",")
        case .object: return value.encodedString()
        }
    }

    /// A member's user id: `given` itself, or, when it is an email, the id of the member of the
    /// team or project at `path` with that email.
    static func memberID(_ given: String, in path: String) async throws -> String {
        guard given.contains("@") else { return given }
        let members = try await send("GET", path)["members"]?.arrayValue ?? []
        guard let id = members.first(where: { $0["email"]?.stringValue?.lowercased() == given.lowercased() })?["user_id"]?.stringValue else {
            throw CommandFailed(message: "\(given) is not a member of \(path.split(separator: "/").last.map(String.init) ?? path)")
        }
        return id
    }

    /// A comma-separated option (`--models a,b`) as a JSON array of its trimmed items.
    static func list(_ text: String) -> JSONValue {
        .array(text.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 != "" })
    }

    /// A secret read from standard input (one line), never from the command line.
    static func readSecret(_ what: String) throws -> String {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("give the \(what) on standard input")
        }
        return line
    }

    /// The project from `--project` or AGENTOS_PROJECT.
    static func project(_ given: String?) throws -> String {
        guard let project = Settings.value(given, env: "PROJECT") else { throw ValidationError("give the project with --project (or AGENTOS_PROJECT)") }
        return project
    }
}

/// `--project` for the commands that work in one.
struct ProjectOption: ParsableArguments {
    @Option(help: "Project name or id (AGENTOS_PROJECT)") var project: String?

    var path: String {
        get throws { "/api/v1/projects/\(try API.project(project).pathEscaped)" }
    }
}

// MARK: Who you are

struct WhoamiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show the logged-in account and the gateway.")
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let me = try await API.send("GET", "/api/v1/me")
        if output.json {
            print(me.prettyString)
            return
        }
        let credentials = try ConfigDirectory().loadCredentials()
        print("\(API.cell(me["email"])) (\(API.cell(me["role"]))) at \(credentials.gateway)")
    }
}

struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout", abstract: "End this login on the server and forget the stored credentials.")

    func run() async throws {
        let directory = ConfigDirectory()
        let credentials = try directory.loadCredentials()
        // A personal access token is not a session: logging out only forgets it here.
        if credentials.refreshToken != nil, let url = URL(string: credentials.gateway) {
            do {
                _ = try await GatewayClient(baseURL: url, token: credentials.accessToken).send("POST", "/api/v1/auth/logout")
            } catch ClientError.http(let status, _, _) where status == 401 {
                // Already over on the server.
            } catch {
                FileHandle.standardError.write(Data("agentos: could not end the session on the server (\(error)); forgetting it here\n".utf8))
            }
        }
        try directory.forgetCredentials()
        if credentials.refreshToken == nil {
            print("forgot the personal access token for \(credentials.gateway); it still works until revoked (`agentos tokens revoke ID`)")
        } else {
            print("logged out of \(credentials.gateway)")
        }
    }
}

// MARK: Users (admin)

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage accounts (admin).", subcommands: [List.self, Create.self, Update.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List accounts.")
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printList(try await API.send("GET", "/api/v1/users"), key: "users", columns: [
                ("ID", "id"), ("EMAIL", "email"), ("NAME", "name"), ("ROLE", "role"), ("DISABLED", "disabled"),
            ], output: output)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create an account; its password is read from standard input.")
        @Option(help: "Email") var email: String
        @Option(help: "Display name") var name: String?
        @Option(help: "admin or user (default user)") var role: String?
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var body: [String: JSONValue] = ["email": .string(email), "password": .string(try API.readSecret("new account's password"))]
            if let name { body["name"] = .string(name) }
            if let role { body["role"] = .string(role) }
            API.printObject(try await API.send("POST", "/api/v1/users", body: .object(body)), output: output)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Change an account's role, or disable it (its tokens stop working at once).")
        @Argument(help: "The account's id") var user: String
        @Option(help: "admin or user") var role: String?
        @Option(help: "New display name") var name: String?
        @Flag(help: "Disable the account: its logins and tokens stop working at once") var disable = false
        @Flag(help: "Enable a disabled account") var enable = false
        @OptionGroup var output: OutputOptions
        func validate() throws {
            if disable, enable { throw ValidationError("give --disable or --enable, not both") }
            if role == nil, name == nil, !disable, !enable { throw ValidationError("give --role, --name, --disable or --enable") }
        }
        func run() async throws {
            var body: [String: JSONValue] = [:]
            if let role { body["role"] = .string(role) }
            if let name { body["name"] = .string(name) }
            if disable || enable { body["disabled"] = .bool(disable) }
            API.printObject(try await API.send("PATCH", "/api/v1/users/\(user.pathEscaped)", body: .object(body)), output: output)
        }
    }
}

// MARK: Teams

struct TeamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teams", abstract: "Teams and their members.", subcommands: [List.self, Create.self, Show.self, Members.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List your teams (admin: all).")
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printList(try await API.send("GET", "/api/v1/teams"), key: "teams", columns: [("ID", "id"), ("NAME", "name"), ("ROLE", "role")], output: output)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a team; you become its owner.")
        @Argument(help: "The team's name") var name: String
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printObject(try await API.send("POST", "/api/v1/teams", body: ["name": .string(name)]), output: output)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "A team and its members.")
        @Argument(help: "The team's name or id") var team: String
        @OptionGroup var output: OutputOptions
        func run() async throws {
            let answer = try await API.send("GET", "/api/v1/teams/\(team.pathEscaped)")
            guard !output.json else { return API.printObject(answer, output: output) }
            print("\(API.cell(answer["name"])) (\(API.cell(answer["id"]))), your role: \(API.cell(answer["role"]))")
            API.printList(answer, key: "members", columns: [("USER", "user_id"), ("EMAIL", "email"), ("ROLE", "role")], output: output)
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "members", abstract: "Add or remove team members (team owner).", subcommands: [Add.self, Remove.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a member or change their role.")
            @Argument(help: "The team's name or id") var team: String
            @Option(help: "The member's email") var email: String
            @Option(help: "owner or member (default member)") var role: String?
            @OptionGroup var output: OutputOptions
            func run() async throws {
                var body: [String: JSONValue] = ["email": .string(email)]
                if let role { body["role"] = .string(role) }
                API.printObject(try await API.send("POST", "/api/v1/teams/\(team.pathEscaped)/members", body: .object(body)), output: output)
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a member.")
            @Argument(help: "The team's name or id") var team: String
            @Argument(help: "The member's email or user id") var user: String
            func run() async throws {
                let id = try await API.memberID(user, in: "/api/v1/teams/\(team.pathEscaped)")
                _ = try await API.send("DELETE", "/api/v1/teams/\(team.pathEscaped)/members/\(id.pathEscaped)")
                print("removed \(user) from \(team)")
            }
        }
    }
}

// MARK: Projects

struct ProjectsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projects", abstract: "Projects, their settings and members.",
        subcommands: [List.self, Create.self, Show.self, Update.self, Delete.self, Members.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the projects you can see.")
        @OptionGroup var output: OutputOptions
        func run() async throws {
            API.printList(try await API.send("GET", "/api/v1/projects"), key: "projects", columns: [
                ("ID", "id"), ("NAME", "name"), ("ROLE", "role"), ("NETWORK", "allow_network"),
            ], output: output)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a project; you become its owner.")
        @Argument(help: "The project's name") var name: String
        @Option(help: "The team it belongs to (name or id)") var team: String?
        @OptionGroup var output: OutputOptions
        func run() async throws {
            var body: [String: JSONValue] = ["name": .string(name)]
            if let team { body["team"] = .string(team) }
            API.printObject(try await API.send("POST", "/api/v1/projects", body: .object(body)), output: output)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "A project, your role and its members.")
        @Argument(help: "The project's name or id") var project: String
        @OptionGroup var output: OutputOptions
        func run() async throws {
            let answer = try await API.send("GET", "/api/v1/projects/\(project.pathEscaped)")
            guard !output.json else { return API.printObject(answer, output: output) }
            print("\(API.cell(answer["name"])) (\(API.cell(answer["id"]))), your role: \(API.cell(answer["role"])), network: \(API.cell(answer["allow_network"]))")
            API.printList(answer, key: "members", columns: [("USER", "user_id"), ("EMAIL", "email"), ("ROLE", "role")], output: output)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Change a project's settings (admin).")
        @Argument(help: "The project's name or id") var project: String
        @Flag(inversion: .prefixedNo, help: "Let the project's jobs ask for the network") var allowNetwork: Bool?
        @OptionGroup var output: OutputOptions
        func validate() throws {
            if allowNetwork == nil { throw ValidationError("give --allow-network or --no-allow-network") }
        }
        func run() async throws {
            API.printObject(try await API.send(
                "PATCH", "/api/v1/projects/\(project.pathEscaped)", body: ["allow_network": .bool(allowNetwork ?? false)]), output: output)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a project and everything in it (owner).")
        @Argument(help: "The project's name or id") var project: String
        @Flag(help: "Yes, delete it and all its skills, jobs and files") var yes = false
        func validate() throws {
            if !yes { throw ValidationError("deleting \(project) removes all its skills, jobs and files: add --yes") }
        }
        func run() async throws {
            _ = try await API.send("DELETE", "/api/v1/projects/\(project.pathEscaped)")
            print("deleted \(project)")
        }
    }

    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "members", abstract: "Set or remove project members (owner).", subcommands: [Set.self, Remove.self])

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "set", abstract: "Add a member or change their role.")
            @Argument(help: "The project's name or id") var project: String
            @Option(help: "The member's email") var email: String
            @Option(help: "owner, editor, runner or viewer") var role: String
            @OptionGroup var output: OutputOptions
            func run() async throws {
                API.printObject(try await API.send(
                    "PUT", "/api/v1/projects/\(project.pathEscaped)/members", body: ["email": .string(email), "role": .string(role)]), output: output)
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a member.")
            @Argument(help: "The project's name or id") var project: String
            @Argument(help: "The member's email or user id") var user: String
            func run() async throws {
                let id = try await API.memberID(user, in: "/api/v1/projects/\(project.pathEscaped)")
                _ = try await API.send("DELETE", "/api/v1/projects/\(project.pathEscaped)/members/\(id.pathEscaped)")
                print("removed \(user) from \(project)")
            }
        }
    }
}
