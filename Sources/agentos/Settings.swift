import Foundation
import Logging

/// Every option also reads `AGENTOS_<NAME>` from the environment (SPEC §2).
enum Settings {
    static func value(_ option: String?, env name: String, default fallback: String) -> String {
        option ?? environment(name) ?? fallback
    }

    static func value(_ option: String?, env name: String) -> String? {
        option ?? environment(name)
    }

    static func int(_ option: Int?, env name: String, default fallback: Int) throws -> Int {
        try int(option, env: name) ?? fallback
    }

    static func int(_ option: Int?, env name: String) throws -> Int? {
        if let option { return option }
        guard let text = environment(name) else { return nil }
        guard let number = Int(text) else { throw CommandFailed(message: "AGENTOS_\(name) must be an integer, got \(text)") }
        return number
    }

    /// A repeatable option as given, else `AGENTOS_<NAME>` split at commas (entries trimmed,
    /// empty ones dropped).
    static func list(_ option: [String], env name: String) -> [String] {
        guard option.isEmpty else { return option }
        return (environment(name) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func environment(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment["AGENTOS_" + name], !value.isEmpty else { return nil }
        return value
    }

    /// Logs to stderr at `AGENTOS_LOG_LEVEL` (default info), labelled by component.
    static func bootstrapLogging() {
        let level = environment("LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Splits `HOST:PORT`.
    static func hostAndPort(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw CommandFailed(message: "expected HOST:PORT, got \(text)")
        }
        return (String(text[..<colon]), port)
    }
}
