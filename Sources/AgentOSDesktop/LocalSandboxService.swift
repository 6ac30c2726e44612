import AgentOSAuth
import AgentOSClient
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The desktop's local sandbox service (`agentos desktop sandbox`): `agentos sandbox` on
/// loopback with a token of its own, for a desktop UI to call. While it runs, it says where
/// it is in `<data>/sandbox.json` (`url`, `token_file`, `pid`), which a UI reads to find it.
public enum LocalSandboxService {
    /// Where a running service is.
    public struct State: Codable, Sendable, Equatable {
        public var url: String
        /// Where the token is, when it is in a file (not when given with `--token`).
        public var tokenFile: String?
        public var pid: Int32
        /// The process, as `ProcessIdentity` names it: a reused pid is not taken for it.
        public var process: String

        /// The state of a service run by this process.
        public init(url: String, tokenFile: String?) {
            self.url = url
            self.tokenFile = tokenFile
            pid = getpid()
            process = ProcessIdentity.current
        }

        enum CodingKeys: String, CodingKey {
            case url, pid, process
            case tokenFile = "token_file"
        }
    }

    /// Held while a service runs, so a second one for the same desktop cannot start beside it.
    public static func lock(in directory: DesktopDataDirectory) throws -> FileLock? {
        let lock = try FileLock(path: directory.path + "/sandbox.lock")
        return lock.tryAcquire() ? lock : nil
    }

    /// The service's token file in the data directory.
    public static func tokenFile(in directory: DesktopDataDirectory) -> String { directory.path + "/sandbox-token" }

    static func stateFile(in directory: DesktopDataDirectory) -> String { directory.path + "/sandbox.json" }

    /// The running service, if its state file names a live process.
    public static func state(in directory: DesktopDataDirectory) -> State? {
        guard let data = FileManager.default.contents(atPath: stateFile(in: directory)),
            let state = try? JSONDecoder().decode(State.self, from: data),
            ProcessIdentity.isAlive(state.process)
        else { return nil }
        return state
    }

    /// Says where the service is (0600); `clear` removes it when the service stops.
    public static func announce(_ state: State, in directory: DesktopDataDirectory) throws {
        try directory.prepare()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try SecretFile.write(try encoder.encode(state), to: stateFile(in: directory))
    }

    /// Removes the state file, if it still names this process.
    public static func clear(in directory: DesktopDataDirectory) {
        guard let data = FileManager.default.contents(atPath: stateFile(in: directory)),
            let state = try? JSONDecoder().decode(State.self, from: data), state.pid == getpid()
        else { return }
        unlink(stateFile(in: directory))
    }
}
