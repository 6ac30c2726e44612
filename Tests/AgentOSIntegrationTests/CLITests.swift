import AgentOSWire
import Foundation
import Testing

/// The control plane with the CLI alone, as README's walkthrough does it: accounts, teams,
/// projects and members, files, tokens (and a CI login with one), providers, agents, chat
/// sessions, worker tokens, the audit log, jobs with every submit option, and the errors a
/// user meets: each says what to do next.
@Suite struct CLITests {
    struct CLI {
        let cluster: Cluster
        let config: String
        var calls = 0

        /// Runs `agentos arguments` with `stdin` piped in; the status and output.
        mutating func run(_ arguments: [String], stdin: String? = nil) async throws -> (Int32?, String) {
            calls += 1
            let name = "\(config)-\(calls)"
            let command = stdin == nil ? [Cluster.binary] + arguments : ["/bin/sh", "-c", "printf '%s\\n' \"$0\" | \"$@\"", stdin!, Cluster.binary] + arguments
            var environment = ProcessInfo.processInfo.environment
            environment["XDG_CONFIG_HOME"] = cluster.directory.appendingPathComponent(config).path
            environment["AGENTOS_LOG_LEVEL"] = "warning"
            let process = try TestProcess(
                executable: command[0], arguments: Array(command.dropFirst()), environment: environment,
                logPath: cluster.directory.appendingPathComponent("\(name).log").path)
            try await cluster.waitFor("agentos \(arguments.prefix(2).joined(separator: " ")) to end", timeout: 120) { !process.isRunning }
            return (process.status, cluster.log(name))
        }

        /// Runs it and requires success; its output.
        @discardableResult
        mutating func ok(_ arguments: [String], stdin: String? = nil) async throws -> String {
            let (status, output) = try await run(arguments, stdin: stdin)
            try #require(status == 0, "agentos \(arguments.joined(separator: " ")): \(output)")
            return output
        }

        /// Runs it with `--json` and parses the answer.
        mutating func json(_ arguments: [String], stdin: String? = nil) async throws -> JSONValue {
            try JSONValue.parse(Data(try await ok(arguments + ["--json"], stdin: stdin).utf8))
        }
    }

    @Test func theControlPlaneWithTheCLIAlone() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        _ = try await cluster.boot(workers: ["cloud-1": 1])
        var admin = CLI(cluster: cluster, config: "admin")
        try await admin.ok(["login", "--gateway", cluster.gatewayURL, "--email", "admin@localhost", "--password-stdin"], stdin: cluster.adminPassword)
        #expect(try await admin.ok(["whoami"]).contains("admin@localhost (admin) at \(cluster.gatewayURL)"))

        // Accounts, a team, a project with a member.
        let bob = try await admin.json(["users", "create", "--email", "bob@example.com", "--name", "Bob"], stdin: "bob-password-1")
        let bobID = try #require(bob["id"]?.stringValue)
        #expect(try await admin.ok(["users", "list"]).contains("bob@example.com"))
        try await admin.ok(["teams", "create", "lab"])
        let project = try await admin.json(["projects", "create", "analysis", "--team", "lab"])
        #expect(project["name"] == "analysis" && project["role"] == "owner", "\(project)")
        try await admin.ok(["projects", "members", "set", "analysis", "--email", "bob@example.com", "--role", "runner"])
        let shown = try await admin.ok(["projects", "show", "analysis"])
        #expect(shown.contains("bob@example.com") && shown.contains("runner"), "\(shown)")
        #expect(try await admin.ok(["projects", "list"]).contains("analysis"))

        // Files, and a job with every submit option.
        let file = cluster.directory.appendingPathComponent("notes.txt").path
        try Data("hello file\n".utf8).write(to: URL(fileURLWithPath: file))
        let uploaded = try await admin.json(["files", "upload", file, "--project", "analysis"])
        let fileID = try #require(uploaded["id"]?.stringValue)
        #expect(try await admin.ok(["files", "list", "--project", "analysis"]).contains(fileID))
        #expect(try await admin.ok(["files", "download", fileID]) == "hello file\n")
        let session = try await admin.json(["sessions", "create", "--project", "analysis", "--title", "chat"])
        let sessionID = try #require(session["id"]?.stringValue)
        let job = try await admin.json([
            "submit", "--project", "analysis", "-c", "def main():\n    return open('files/in.txt').read()", "--file", "\(fileID):in.txt",
            "--memory-mb", "256", "--timeout", "30", "--max-output-kb", "64", "--priority", "0", "--idempotency-key", "key-1",
            "--session", sessionID, "--wait",
        ])
        #expect(job == "hello file\n", "the result: \(job)")
        let listed = try await admin.json(["jobs", "list", "--project", "analysis", "--origin", "server", "--session", sessionID])
        let first = try #require(listed["jobs"]?.arrayValue?.first)
        #expect(first["idempotency_key"] == "key-1" && first["limits"]?["memory_mb"] == 256 && first["limits"]?["max_output_kb"] == 64, "\(first)")
        #expect(try await admin.ok(["jobs", "list", "--project", "analysis", "--status", "succeeded"]).contains("succeeded"))
        try await admin.ok(["sessions", "say", sessionID, "what is in the file?"])
        #expect(try await admin.ok(["sessions", "messages", sessionID]).contains("what is in the file?"))

        // Providers and agents.
        try await admin.ok(["providers", "create", "openai", "--project", "analysis", "--kind", "openai", "--base-url", "https://api.openai.com/v1",
                            "--models", "gpt-4o", "--api-key-stdin"], stdin: "sk-test-key")
        #expect(!(try await admin.ok(["providers", "list", "--project", "analysis"])).contains("sk-test-key"))
        #expect(try await admin.ok(["providers", "reveal", "openai", "--project", "analysis"]) == "sk-test-key\n")
        try await admin.ok(["agents", "create", "helper", "--project", "analysis", "--provider", "openai", "--model", "gpt-4o", "--system-prompt", "one"])
        try await admin.ok(["agents", "update", "helper", "--project", "analysis", "--system-prompt", "two"])
        let versions = try await admin.json(["agents", "versions", "helper", "--project", "analysis"])
        #expect(versions["versions"]?.arrayValue?.compactMap { $0["system_prompt"]?.stringValue } == ["two", "one"])

        // Worker tokens and the audit log.
        let workerToken = try await admin.ok(["worker-tokens", "create", "gpu", "--labels", "gpu"]).split(separator: "\n").first { !$0.hasPrefix("agentos:") }.map(String.init) ?? ""
        #expect(workerToken.hasPrefix("aow_"), "\(workerToken)")
        #expect(try await admin.ok(["worker-tokens", "list"]).contains("gpu"))
        #expect(try await admin.ok(["audit", "--action", "provider.reveal"]).contains("provider.reveal"))

        // CI: a personal access token as the login.
        let token = try await admin.ok(["tokens", "create", "ci"]).split(separator: "\n").first { !$0.hasPrefix("agentos:") }.map(String.init) ?? ""
        #expect(token.hasPrefix("aos_pat_"), "\(token)")
        var ci = CLI(cluster: cluster, config: "ci")
        try await ci.ok(["login", "--gateway", cluster.gatewayURL, "--token-stdin"], stdin: token)
        #expect(try await ci.ok(["whoami"]).contains("admin@localhost"))
        #expect(try await ci.ok(["submit", "--project", "analysis", "-c", "def main(): return 7", "--wait"]) == "7\n")

        // Mistakes say what to do next.
        var (status, output) = try await admin.run(["submit", "--project", "analysis", "-c", "def main(): return 1", "--worker", "cloud-1"])
        #expect(status == 2 && output.contains("add --target private"), "\(output)")
        (status, output) = try await admin.run(["projects", "delete", "analysis"])
        #expect(status == 2 && output.contains("add --yes"), "\(output)")
        var bobCLI = CLI(cluster: cluster, config: "bob")
        try await bobCLI.ok(["login", "--gateway", cluster.gatewayURL, "--email", "bob@example.com", "--password-stdin"], stdin: "bob-password-1")
        (status, output) = try await bobCLI.run(["users", "list"])
        #expect(status == 1 && output.contains("HTTP 403"), "\(output)")
        try await admin.ok(["users", "update", bobID, "--disable"])
        (status, output) = try await bobCLI.run(["whoami"])
        #expect(status == 1 && output.contains("run `agentos login` again"), "\(output)")
        try await ci.ok(["tokens", "list"])
        (status, output) = try await bobCLI.run(["login", "--gateway", cluster.gatewayURL, "--email", "bob@example.com", "--password-stdin"], stdin: "wrong-password")
        #expect(status == 1 && output.contains("email or password") && !output.contains("run `agentos login` again"), "\(output)")
        // A member is removed by email as well as by id.
        try await admin.ok(["projects", "members", "remove", "analysis", "bob@example.com"])
        #expect(!(try await admin.ok(["projects", "show", "analysis"])).contains("bob@example.com"))
        (status, output) = try await admin.run(["projects", "members", "remove", "analysis", "nobody@example.com"])
        #expect(status == 1 && output.contains("not a member"), "\(output)")
        try await admin.ok(["logout"])
        (status, output) = try await admin.run(["whoami"])
        #expect(status == 1 && output.contains("not logged in"), "\(output)")
    }
}
