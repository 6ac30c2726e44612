import AgentOSWire
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `desktop attach --dir`: a desktop shares host folders with its user's private jobs. A job
/// sees at /mnt/<name> exactly the shared folders it names, read-only unless shared `:rw`, and
/// nothing else of the host: not a folder beside them, the home directory, or the desktop's
/// config and data. A job naming a folder the desktop does not share fails without running.
@Suite struct SharedFolderClusterTests {
    /// `<cluster>/host/{docs,private,out}`, reachable by a root desktop's sandbox user.
    struct Layout {
        let root: String
        var docs: String { root + "/docs" }
        var sibling: String { root + "/private" }
        var out: String { root + "/out" }

        init(in cluster: Cluster) throws {
            root = cluster.directory.appendingPathComponent("host").path
            for path in [root, docs, sibling, out] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                // A root desktop runs its sandboxes as uid 65533, which must get in (and write to out).
                chmod(path, 0o777)
            }
            try Data("the shared note\n".utf8).write(to: URL(fileURLWithPath: docs + "/note.txt"))
            try Data("not for jobs\n".utf8).write(to: URL(fileURLWithPath: sibling + "/secret.txt"))
            chmod(docs + "/note.txt", 0o644)
            chmod(sibling + "/secret.txt", 0o644)
        }
    }

    static let probe = """
        import os
        def main(paths, writes):
            seen = {"mnt": sorted(os.listdir("/mnt")), "note": open("/mnt/docs/note.txt").read(), "writes": {}}
            for path in paths:
                seen[path] = os.path.exists(path)
            for path in writes:
                try:
                    with open(path, "w") as f:
                        f.write("written by the job\\n")
                    seen["writes"][path] = "ok"
                except OSError as error:
                    seen["writes"][path] = "errno %d" % error.errno
            return seen
        """

    /// Submits `body`; with `wait`, answers with the finished job (without warnings) if it ends in time.
    func submit(_ cluster: Cluster, _ body: JSONValue, token: String, wait: Int? = 60) async throws -> (Int, JSONValue) {
        try await cluster.http("POST", "/api/v1/projects/default/jobs" + (wait.map { "?wait=\($0)" } ?? ""), body: body, token: token)
    }

    @Test func aPrivateJobSeesTheFoldersItNamesAndNothingElseOfTheHost() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let token = try await cluster.boot()
        let layout = try Layout(in: cluster)
        try await cluster.attachDesktop(
            "desk", email: "admin@localhost", password: cluster.adminPassword, extraArguments: ["--dir", layout.docs, "--dir", layout.out + ":rw"])
        try await cluster.waitForWorkers(["desk"], token: token)
        #expect(cluster.log("desk").contains("sharing a folder with private jobs"), "attach says what it shares")
        let (_, workers) = try await cluster.http("GET", "/api/v1/workers", token: token)
        #expect(workers["workers"]?.arrayValue?.first { $0["name"] == "desk" }?["folders"] == ["docs", "out"])

        // Named alone, docs is all the job sees under /mnt, read-only; nothing around it is there.
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        let hidden = [
            layout.sibling, layout.sibling + "/secret.txt", layout.root, "/mnt/docs/../private", "/mnt/out", "/mnt/private", home, "/root", "/home",
            cluster.directory.appendingPathComponent("config-desk").path, cluster.dataDirectory, cluster.dataDirectory + "/agentos.sqlite",
            cluster.sandboxCache,
        ]
        let (status, readOnly) = try await submit(cluster, [
            "code": .string(Self.probe), "target": "private", "dirs": ["docs"],
            "inputs": ["paths": .array(hidden.map { .string($0) }), "writes": ["/mnt/docs/new.txt"]],
        ], token: token)
        #expect(status == 200 && readOnly["status"] == "succeeded" && readOnly["worker"] == "desk", "\(readOnly)")
        #expect(readOnly["dirs"] == ["docs"])
        let seen = try #require(readOnly["result"]?.objectValue)
        #expect(seen["mnt"] == ["docs"])
        #expect(seen["note"] == "the shared note\n")
        for path in hidden { #expect(seen[path] == false, "\(path) is not in the sandbox") }
        #expect(seen["writes"]?["/mnt/docs/new.txt"] == "errno 30", "read-only (EROFS): \(seen["writes"] ?? .null)")
        #expect(!FileManager.default.fileExists(atPath: layout.docs + "/new.txt"))

        // Shared :rw, out takes the job's writes, and the file is on the host.
        let (_, writable) = try await submit(cluster, [
            "code": .string(Self.probe), "target": "private", "dirs": ["docs", "out"],
            "inputs": ["paths": [], "writes": ["/mnt/out/result.txt", "/mnt/docs/new.txt"]],
        ], token: token)
        #expect(writable["status"] == "succeeded", "\(writable)")
        #expect(writable["result"]?["mnt"] == ["docs", "out"])
        #expect(writable["result"]?["writes"] == ["/mnt/out/result.txt": "ok", "/mnt/docs/new.txt": "errno 30"])
        #expect(try String(contentsOfFile: layout.out + "/result.txt", encoding: .utf8) == "written by the job\n")

        // A folder the desktop does not share: the submit warns, the job fails without running.
        let (accepted, unshared) = try await submit(
            cluster, ["code": "def main():\n    return 1", "target": "private", "dirs": ["taxes"]], token: token, wait: nil)
        #expect(accepted == 202 && unshared["warnings"]?.arrayValue?.first?.stringValue?.contains("taxes") == true, "\(unshared)")
        let failed = try await cluster.waitForStatus(try #require(unshared["id"]?.stringValue), token: token) { $0 != "queued" && $0 != "running" }
        #expect(failed["status"] == "failed", "\(failed)")
        #expect(failed["exit_code"] == .null && failed["attempts"] == 1)
        #expect(failed["error"]?.stringValue?.hasPrefix(
            #"folder_not_shared: this desktop shares no folder named "taxes" (it shares: docs, out); start agentos desktop attach --dir PATH"#) == true,
            "\(failed)")

        // Only a private job names folders.
        let (refused, error) = try await submit(cluster, ["code": "def main():\n    return 1", "dirs": ["docs"]], token: token)
        #expect(refused == 400 && error["error"]?["path"] == "dirs", "\(error)")

        // The CLI: --dir with --target private reads the folder; without it, a usage error.
        let (cliStatus, cliOutput) = try await cluster.cli(
            "submit-dir", ["submit", "--project", "default", "--target", "private", "--dir", "docs", "--wait",
                           "-c", "def main():\n    return open('/mnt/docs/note.txt').read()"], config: "config-desk")
        #expect(cliStatus == 0 && cliOutput.contains("the shared note"), "\(cliOutput)")
        let (_, listing) = try await cluster.cli("workers", ["workers"], config: "config-desk")
        #expect(listing.contains("FOLDERS") && listing.contains("docs,out"), "\(listing)")
        let (usageStatus, usage) = try await cluster.cli(
            "submit-dir-cloud", ["submit", "--project", "default", "--dir", "docs", "-c", "pass"], config: "config-desk")
        #expect(usageStatus == 2 && usage.contains("add --target private"), "\(usage)")
    }

    @Test func attachRefusesFoldersItCannotShare() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let layout = try Layout(in: cluster)
        let twin = cluster.directory.appendingPathComponent("elsewhere/docs").path
        try FileManager.default.createDirectory(atPath: twin, withIntermediateDirectories: true)
        let missing = layout.root + "/missing"
        for (name, arguments, environment, message) in [
            ("missing", ["--dir", missing], [:], "no folder at"),
            ("twins", ["--dir", layout.docs, "--dir", twin + ":rw"], [:], "would both be /mnt/docs"),
            ("root", ["--dir", "/"], [:], "the whole file system cannot be shared"),
            ("unsandboxed", ["--dir", layout.docs, "--insecure-no-sandbox"], [:], "--dir needs the sandbox"),
            ("from-env", [], ["AGENTOS_DIRS": "\(layout.docs), \(missing):rw"], "no folder at"),
        ] as [(String, [String], [String: String], String)] {
            let (status, output) = try await cluster.cli(name, ["desktop", "attach"] + arguments, config: "config-\(name)", environment: environment)
            #expect(status == 2 && output.contains(message), "\(name): \(output)")
        }
    }
}
