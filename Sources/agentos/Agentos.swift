import ArgumentParser
import Foundation

/// The `agentos` command: one binary for every role.
struct Agentos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentos",
        abstract: "AgentOS: run versioned Python skills for agents on cloud workers and desktops.",
        version: "0.1.0",
        subcommands: [
            UpCommand.self, ServerCommand.self, GatewayCommand.self, WorkerCommand.self, LoginCommand.self, LogoutCommand.self,
            WhoamiCommand.self, SubmitCommand.self, JobsCommand.self, SkillsCommand.self, WorkersCommand.self, FilesCommand.self,
            ProjectsCommand.self, TeamsCommand.self, UsersCommand.self, TokensCommand.self, ProvidersCommand.self, AgentsCommand.self,
            SessionsCommand.self, WorkerTokensCommand.self, AuditCommand.self, DesktopCommand.self, SandboxCommand.self,
            StoreCommand.self,
        ])
}

@main
enum Main {
    static func main() async {
        var command: any ParsableCommand
        do {
            command = try Agentos.parseAsRoot()
        } catch {
            exit(withError: error, command: Agentos.self)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error, command: type(of: command))
        }
    }

    /// Exit codes of SPEC §2: 0 success, 1 failure, 2 usage error; one clear line on stderr.
    static func exit(withError error: any Error, command: any ParsableCommand.Type) -> Never {
        let code = command.exitCode(for: error)
        if code == .success {
            let message = command.fullMessage(for: error)
            if !message.isEmpty { print(message) }
            Foundation.exit(0)
        }
        if let failed = error as? CommandFailed {
            FileHandle.standardError.write(Data("agentos: \(failed.message)\n".utf8))
            Foundation.exit(1)
        }
        if error is ExitCode { Foundation.exit(code.rawValue) }
        let isUsage = code == .validationFailure
        let message: String
        if !isUsage {
            message = "agentos: \(error)"
        } else if command == Agentos.self {
            message = Agentos.fullMessage(for: error)
        } else {
            // Found while running: the parser's usage text would not name the subcommand.
            message = "agentos: \(command.message(for: error))\nRun the command with --help for its usage."
        }
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(isUsage ? 2 : 1)
    }
}

/// A command failed for a reason already worded for the user.
struct CommandFailed: Error {
    let message: String
}
