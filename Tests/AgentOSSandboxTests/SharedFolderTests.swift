@testable import AgentOSSandbox
import AgentOSWire
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Host folders shared with a job (`desktop run --dir`, `desktop attach --dir`): the job sees
/// exactly those, at `/mnt/<name>`, read-only unless shared writable, and nothing beside them.
@Suite struct SharedFolderTests {
    /// `<tmp>/<random>/{shared,sibling}`, readable by a root engine's sandbox user.
    struct Layout {
        let root: String
        var shared: String { root + "/shared" }
        var sibling: String { root + "/sibling" }

        init() throws {
            root = NSTemporaryDirectory() + "agentos-folders-" + UUID().uuidString.prefix(8).lowercased()
            for path in [root, shared, sibling] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                // A root engine runs sandboxes as its own user, who must get in.
                chmod(path, 0o777)
            }
            try Data("in the shared folder\n".utf8).write(to: URL(fileURLWithPath: shared + "/data.txt"))
            try Data("next door\n".utf8).write(to: URL(fileURLWithPath: sibling + "/secret.txt"))
            chmod(shared + "/data.txt", 0o666)
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    func run(_ engine: SandboxEngine, _ code: String, folders: [SharedFolder], inputs: [String: JSONValue] = [:]) async -> JobOutcome {
        await engine.run(
            JobAssignment(jobID: UUID().uuidString, attempt: 1, code: code, inputs: inputs, limits: JobLimits(timeoutSeconds: 60)),
            inputFiles: nil, folders: folders, onOutput: nil)
    }

    static let probe = """
        import os
        def main(paths):
            seen = {"mnt": sorted(os.listdir("/mnt"))}
            for path in paths:
                try:
                    seen[path] = open(path).read() if os.path.isfile(path) else sorted(os.listdir(path))
                except OSError as error:
                    seen[path] = type(error).__name__
            try:
                open("/mnt/shared/new.txt", "w").write("written by the job")
                seen["write"] = "ok"
            except OSError as error:
                seen["write"] = type(error).__name__
            return seen
        """

    /// Every engine kind: a fork server's engine starts jobs with folders cold.
    @Test(arguments: EngineKind.sandboxed) func aJobSeesItsFolderReadOnlyAndNothingBeside(_ kind: EngineKind) async throws {
        let layout = try Layout()
        defer { layout.remove() }
        let engine = try kind.engine()
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        let paths: [JSONValue] = [
            "/mnt/shared/data.txt", .string(layout.sibling), .string(layout.sibling + "/secret.txt"), "/mnt/sibling", .string(home),
            .string(layout.root),
        ]
        let outcome = await run(engine, Self.probe, folders: [SharedFolder(name: "shared", path: layout.shared, writable: false)], inputs: ["paths": .array(paths)])
        #expect(outcome.status == .succeeded, "\(outcome)")
        let seen = try #require(outcome.result?.objectValue)
        #expect(seen["mnt"] == ["shared"])
        #expect(seen["/mnt/shared/data.txt"] == "in the shared folder\n")
        for hidden in [layout.sibling, layout.sibling + "/secret.txt", "/mnt/sibling", home, layout.root] where hidden != "/" {
            #expect(seen[hidden] == "FileNotFoundError", "\(hidden) is not there: \(seen[hidden] ?? .null)")
        }
        #expect(seen["write"] == "OSError" || seen["write"] == "PermissionError", "read-only: \(seen["write"] ?? .null)")
        #expect(!FileManager.default.fileExists(atPath: layout.shared + "/new.txt"))
        if kind == .forked { #expect(engine.coldStarts == 1, "a job with folders starts cold") }
    }

    @Test func aWritableFolderTakesTheJobsWrites() async throws {
        let layout = try Layout()
        defer { layout.remove() }
        let engine = try EngineKind.cold.engine()
        let outcome = await run(engine, Self.probe, folders: [SharedFolder(name: "shared", path: layout.shared, writable: true)], inputs: ["paths": []])
        #expect(outcome.status == .succeeded, "\(outcome)")
        #expect(outcome.result?.objectValue?["write"] == "ok")
        #expect(try String(contentsOfFile: layout.shared + "/new.txt", encoding: .utf8) == "written by the job")
    }

    @Test func aFolderReplacedSinceItWasSharedIsNotBound() async throws {
        let layout = try Layout()
        defer { layout.remove() }
        let engine = try EngineKind.cold.engine()
        let folder = try SharedFolder(argument: layout.shared)
        // Swapped for another directory by the same path, and then for a link to one.
        try FileManager.default.moveItem(atPath: layout.shared, toPath: layout.root + "/moved")
        try FileManager.default.createDirectory(atPath: layout.shared, withIntermediateDirectories: false)
        var outcome = await run(engine, "def main():\n    return 1", folders: [folder])
        #expect(outcome.status == .failed && outcome.error?.contains("was moved or replaced since it was shared") == true, "\(outcome)")
        #expect(outcome.error?.contains(layout.root) == false, "the host path stays on the host: \(outcome.error ?? "")")
        try FileManager.default.removeItem(atPath: layout.shared)
        symlink(layout.root + "/moved", layout.shared)
        outcome = await run(engine, "def main():\n    return 1", folders: [folder])
        #expect(outcome.status == .failed && outcome.error?.contains("/mnt/shared") == true, "\(outcome)")
        try FileManager.default.removeItem(atPath: layout.shared)
        outcome = await run(engine, "def main():\n    return 1", folders: [folder])
        #expect(outcome.status == .failed && outcome.error?.contains("is gone from this machine") == true, "\(outcome)")
    }

    @Test func theUnsandboxedEngineRefusesFolders() async throws {
        let layout = try Layout()
        defer { layout.remove() }
        let outcome = await run(try EngineKind.unsandboxed.engine(), "def main():\n    return 1",
                                folders: [SharedFolder(name: "shared", path: layout.shared, writable: false)])
        #expect(outcome.status == .failed)
        #expect(outcome.error?.contains("shared folders need the sandbox") == true, "\(outcome.error ?? "")")
    }

    @Test func accessIsJudgedForTheSandboxUser() throws {
        let layout = try Layout()
        defer { layout.remove() }
        let uid: UInt32 = 65_533
        let folder = SharedFolder(name: "shared", path: layout.shared, writable: false)
        #expect(folder.accessProblem(uid: uid, gid: uid) == nil)
        chmod(layout.shared, 0o755)
        #expect(SharedFolder(name: "shared", path: layout.shared, writable: true).accessProblem(uid: uid, gid: uid)?.contains("cannot be written") == true)
        chmod(layout.shared, 0o711)
        #expect(folder.accessProblem(uid: uid, gid: uid)?.contains("cannot be listed") == true)
        chmod(layout.shared, 0o777)
        chmod(layout.root, 0o700)
        #expect(folder.accessProblem(uid: uid, gid: uid)?.contains("does not let uid 65533 through") == true)
        #expect(folder.accessProblem(uid: 0, gid: 0) == nil, "root passes")
        chmod(layout.root, 0o777)
        #expect(SharedFolder(name: "x", path: layout.root + "/gone", writable: false).accessProblem(uid: uid, gid: uid)?.contains("No such file") == true)
        #expect(throws: SandboxError.self) { try SharedFolder(argument: layout.shared + "/data.txt") }
    }

    @Test func argumentsAreResolvedAndChecked() throws {
        let layout = try Layout()
        defer { layout.remove() }
        symlink(layout.shared, layout.root + "/link")
        let folder = try SharedFolder(argument: "link:rw", relativeTo: layout.root)
        #expect([folder.name, folder.path, "\(folder.writable)"] == ["shared", URL(fileURLWithPath: layout.shared).resolvingSymlinksInPath().path, "true"])
        var info = stat()
        #expect(stat(layout.shared, &info) == 0 && folder.identity == SharedFolder.FileIdentity(info))
        #expect(try SharedFolder(argument: layout.sibling + ":ro").writable == false)
        #expect(try SharedFolder(argument: "~/shared:rw", home: layout.root).path == URL(fileURLWithPath: layout.shared).resolvingSymlinksInPath().path)
        #expect(throws: SandboxError.self) { try SharedFolder(argument: layout.root + "/missing") }
        #expect(throws: SandboxError.self) { try SharedFolder(argument: "/") }
        #expect(throws: SandboxError.self) { try SharedFolder(argument: ":rw") }
        #expect(throws: SandboxError.self) {
            try SharedFolder.checkUnique([SharedFolder(name: "a", path: "/x/a", writable: false), SharedFolder(name: "a", path: "/y/a", writable: true)])
        }
        #expect(!SharedFolder.isValidName("..") && !SharedFolder.isValidName("a/b") && !SharedFolder.isValidName("") && SharedFolder.isValidName("data-2.v1"))
    }
}

/// Variables given for one run (a provider's key at run time): in the job's environment,
/// whether its sandbox was forked or started cold, and nowhere on disk.
@Suite struct RunEnvironmentTests {
    @Test(arguments: EngineKind.sandboxed) func aRunsVariablesReachTheJobAndNothingElse(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let secret = "sk-run-\(UUID().uuidString)"
        let code = """
            import os
            def main():
                found = []
                for root, _, files in os.walk("/work"):
                    for name in files:
                        try:
                            if os.environ["AGENTOS_PROVIDER_API_KEY"] in open(os.path.join(root, name), errors="replace").read():
                                found.append(name)
                        except OSError:
                            pass
                return {"key": os.environ.get("AGENTOS_PROVIDER_API_KEY"), "on_disk": found, "other": os.environ.get("AGENTOS_OTHER")}
            """
        let job = JobAssignment(jobID: UUID().uuidString, attempt: 1, code: code, inputs: [:], limits: JobLimits(timeoutSeconds: 60))
        let outcome = await engine.run(job, context: JobRunContext(environment: ["AGENTOS_PROVIDER_API_KEY": secret]))
        #expect(outcome.status == .succeeded, "\(outcome)")
        #expect(outcome.result == ["key": .string(secret), "on_disk": [], "other": .null])
        // The next job of the same engine (the same fork server) does not have it.
        let next = await engine.run(JobAssignment(jobID: UUID().uuidString, attempt: 1, code: code.replacingOccurrences(of: "os.environ[\"AGENTOS_PROVIDER_API_KEY\"] in", with: "False and"), inputs: [:], limits: JobLimits(timeoutSeconds: 60)), context: JobRunContext())
        #expect(next.result?["key"] == .null, "\(next)")
    }

    @Test func onlyAgentOSVariablesMayBeGiven() async throws {
        let engine = try EngineKind.cold.engine()
        for name in ["LD_PRELOAD", "PYTHONPATH", "AGENTOS_", "AGENTOS_lower", "AGENTOS_A-B", "PATH"] {
            let outcome = await engine.run(
                JobAssignment(jobID: UUID().uuidString, attempt: 1, code: "def main():\n    return 1", inputs: [:], limits: JobLimits(timeoutSeconds: 30)),
                context: JobRunContext(environment: [name: "x"]))
            #expect(outcome.status == .failed && outcome.error?.contains("cannot be set for a job") == true, "\(name): \(outcome)")
        }
        #expect(JobRunContext.isValidVariableName("AGENTOS_PROVIDER_API_KEY") && !JobRunContext.isValidVariableName("AGENTOSX"))
    }
}
