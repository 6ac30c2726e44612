@testable import AgentOSSandbox
import AgentOSWire
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Jobs that try to get out, each contained with the expected error, and the engine still
/// running ordinary jobs afterwards; each in a sandbox forked by a fork server and in one
/// started cold. Every test here needs bubblewrap.
@Suite struct HostileJobTests {
    /// An ordinary job still runs, in a sandbox started as `kind` says: the engine is healthy.
    func expectHealthy(_ engine: SandboxEngine, _ kind: EngineKind) async {
        let outcome = await engine.run("def main():\n    return 1")
        #expect(outcome.status == .succeeded && outcome.result == 1, "the engine still runs jobs: \(outcome)")
        #expect(engine.isForking == (kind == .forked), "still \(kind)")
        #expect(kind == .forked ? engine.coldStarts == 0 : engine.forkedStarts == 0, "every sandbox \(kind)")
    }

    @Test(arguments: EngineKind.sandboxed) func noNetworkNotEvenLoopback(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let listener = try LoopbackListener()
        let code = """
            import socket, struct, fcntl
            def main(port):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=2)
                    connected = "connected"
                except OSError as error:
                    connected = error.strerror
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, struct.pack("16sH14x", b"lo", 0)))[1]
                return {"connect": connected, "interfaces": [name for _, name in socket.if_nameindex()], "lo_up": bool(flags & 1)}
            """
        let outcome = await engine.run(code, inputs: ["port": .number(Double(listener.port))])
        #expect(outcome.status == .succeeded, "\(outcome)")
        #expect(outcome.result == ["connect": "Network is unreachable", "interfaces": ["lo"], "lo_up": false])
        #expect(listener.acceptedAnything == false)
        await expectHealthy(engine, kind)
    }

    @Test(arguments: EngineKind.sandboxed) func hostFilesAreNotThere(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        setenv("AGENTOS_TEST_SECRET", "do-not-leak-\(UUID().uuidString)", 1)
        let secret = String(cString: getenv("AGENTOS_TEST_SECRET"))
        let code = """
            import os
            def main(paths):
                seen = {}
                for path in paths:
                    try:
                        with open(path, "rb") as f:
                            seen[path] = f.read().decode(errors="replace")
                    except IsADirectoryError:
                        seen[path] = "directory: " + ",".join(os.listdir(path))
                    except OSError as error:
                        seen[path] = type(error).__name__
                seen["root"] = sorted(os.listdir("/"))
                return seen
            """
        let state = engine.configuration.stateDirectory
        let paths = ["/etc/shadow", "/etc/passwd", "/proc/1/environ", "/proc/self/environ", state, state + "/venvs", NSHomeDirectory(), "/root", "/home", "/var", "/sys/class/net"]
        let outcome = await engine.run(code, inputs: ["paths": .array(paths.map { .string($0) })])
        let seen = try #require(outcome.result?.objectValue, "\(outcome)")
        #expect(seen["/etc/shadow"] == "FileNotFoundError")
        #expect(seen["/etc/passwd"]?.stringValue?.contains("sandbox:x:1000") == true, "the sandbox's own passwd")
        for path in [state, state + "/venvs", NSHomeDirectory(), "/root", "/home", "/var", "/sys/class/net"] {
            #expect(seen[path] == "FileNotFoundError", "\(path): \(seen[path] ?? .null)")
        }
        for path in ["/proc/1/environ", "/proc/self/environ"] {
            let text = seen[path]?.stringValue ?? ""
            #expect(!text.contains(secret) && !text.contains("AGENTOS_"), "\(path) holds only the job's clean environment: \(text)")
        }
        let root = Set(seen["root"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        #expect(root.isSuperset(of: ["usr", "etc", "proc", "dev", "tmp", "work"]), "\(root)")
        #expect(root.isDisjoint(with: ["home", "root", "var", "opt", "srv", "mnt", "media", "boot", "run", "sys"]), "\(root)")
        await expectHealthy(engine, kind)
    }

    @Test(arguments: EngineKind.sandboxed) func otherJobsDirectoriesAreNotVisible(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let marker = "marker-\(UUID().uuidString)"
        // The first job holds its files until the test writes `done` into its work dir.
        let holder = Task {
            await engine.run("open('\(marker)', 'w').write('secret')\nopen('/tmp/\(marker)', 'w').write('secret')\n" + holdUntilDone, timeout: 120)
        }
        let holderWork = try await engine.workDirectory(holding: marker)
        defer { release(holderWork) }
        let known = holderWork + "/" + marker
        let code = """
            import os
            def main(marker, host_path):
                found = []
                for top in ["/work", "/tmp", "/proc", "/dev", "/etc"]:
                    for root, dirs, files in os.walk(top):
                        if marker in files:
                            found.append(os.path.join(root, marker))
                try:
                    open(host_path).read()
                    direct = "read"
                except OSError as error:
                    direct = type(error).__name__
                return {"found": found, "direct": direct, "processes": len([p for p in os.listdir("/proc") if p.isdigit()])}
            """
        let outcome = await engine.run(code, inputs: ["marker": .string(marker), "host_path": .string(known)])
        #expect(outcome.result?["found"] == [], "\(outcome)")
        #expect(outcome.result?["direct"] == "FileNotFoundError")
        #expect((outcome.result?["processes"]?.intValue ?? 99) <= 3, "only its own processes: \(outcome.result ?? .null)")
        release(holderWork)
        #expect(await holder.value.status == .succeeded)
        await expectHealthy(engine, kind)
    }

    @Test(arguments: EngineKind.sandboxed) func writesOutsideTheWorkDirFail(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let code = """
            def main():
                results = {}
                for path in ["/usr/agentos-x", "/etc/agentos-x", "/agentos-x", "/dev/agentos-x", "/proc/agentos-x", "/work/ok"]:
                    try:
                        open(path, "w").write("x")
                        results[path] = "written"
                    except OSError as error:
                        results[path] = type(error).__name__
                return results
            """
        let outcome = await engine.run(code)
        let results = try #require(outcome.result?.objectValue, "\(outcome)")
        #expect(results["/work/ok"] == "written")
        for (path, result) in results where path != "/work/ok" {
            #expect(result != "written", "\(path)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/usr/agentos-x") && !FileManager.default.fileExists(atPath: "/etc/agentos-x"))
        await expectHealthy(engine, kind)
    }

    /// The Judge0 escapes: links planted in the work dir must not lead the worker, which
    /// cleans up afterwards, to host files; hard links to files outside cannot be made.
    @Test(arguments: EngineKind.sandboxed) func symlinkAndHardLinkTricksReachNothing(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let victim = TestEngines.temporaryDirectory("agentos-victim")
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: victim) }
        try "keep me".write(toFile: victim + "/precious.txt", atomically: true, encoding: .utf8)
        let code = """
            import os
            def main(victim):
                results = {}
                os.symlink(victim, "escape")
                os.symlink(victim + "/precious.txt", "precious")
                os.symlink("/etc/shadow", "shadow")
                os.mkdir("files2")
                os.symlink(victim, "files2/deep")
                for name in ["escape/precious.txt", "precious", "shadow"]:
                    try:
                        results[name] = open(name).read()
                    except OSError as error:
                        results[name] = type(error).__name__
                for source in ["/usr/bin/python3", "/etc/passwd", "/proc/self/environ"]:
                    try:
                        os.link(source, "hard-" + os.path.basename(source))
                        results["link " + source] = "linked"
                    except OSError as error:
                        results["link " + source] = type(error).__name__
                return results
            """
        let outcome = await engine.run(code, inputs: ["victim": .string(victim)])
        let results = try #require(outcome.result?.objectValue, "\(outcome)")
        #expect(results["escape/precious.txt"] == "FileNotFoundError")
        #expect(results["precious"] == "FileNotFoundError")
        #expect(results["shadow"] == "FileNotFoundError")
        for source in ["/usr/bin/python3", "/etc/passwd", "/proc/self/environ"] {
            #expect(results["link " + source] != "linked", "\(source): \(results["link " + source] ?? .null)")
        }
        // Cleaning up the work dir removed the links, not what they point to on the host.
        #expect(try String(contentsOfFile: victim + "/precious.txt", encoding: .utf8) == "keep me")
        await expectHealthy(engine, kind)
    }

    @Test(arguments: EngineKind.sandboxed) func forkBombIsContained(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let code = """
            import os, time
            while True:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.01)
            """
        let outcome = await engine.run(code, timeout: 3)
        #expect(outcome.status == .timedOut, "\(outcome.error ?? "")")
        let count = """
            import os
            def main():
                pids = []
                for _ in range(500):
                    try:
                        pid = os.fork()
                    except OSError:
                        break
                    if pid == 0:
                        import time
                        time.sleep(30)
                        os._exit(0)
                    pids.append(pid)
                return len(pids)
            """
        let bounded = await engine.run(count, timeout: 20)
        let forks = try #require(bounded.result?.intValue, "\(bounded)")
        #expect(forks < engine.configuration.limits.processes, "at most \(engine.configuration.limits.processes) processes, got \(forks)")
        await expectHealthy(engine, kind)
    }

    @Test(arguments: EngineKind.sandboxed) func infiniteLoopAndCPUBurnEndAtTheirLimits(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let loop = await engine.run("while True:\n    pass", timeout: 1)
        #expect(loop.status == .timedOut && loop.error == "timed_out: the job ran longer than 1s", "\(loop)")
        // Four threads burn CPU time faster than the wall clock runs on two cores: the CPU
        // limit (the wall limit plus a second, in CPU seconds) comes first, and says so. (On
        // a machine too busy to give them two cores, the wall limit may come first.)
        let burn = """
            import hashlib, threading, time
            def spin():
                while True:
                    hashlib.sha256(b"x" * 1000000).digest()
            for _ in range(4):
                threading.Thread(target=spin, daemon=True).start()
            time.sleep(60)
            """
        let burned = await engine.run(burn, timeout: 4)
        let reason = burned.error ?? ""
        #expect(reason.hasPrefix("cpu_limit: the job used more than 5s of CPU time") || burned.status == .timedOut, "\(burned)")
        #expect(!reason.hasPrefix("killed"), "\(reason)")
        // Threads do not use up the memory limit on arenas.
        let threads = await engine.run("""
            import threading
            def main():
                event = threading.Event()
                started = [threading.Thread(target=event.wait) for _ in range(60)]
                for thread in started:
                    thread.start()
                event.set()
                return len(started)
            """)
        #expect(threads.result == 60, "\(threads)")
        await expectHealthy(engine, kind)
    }

    @Test(arguments: EngineKind.sandboxed) func aGigabyteOfOutputIsCutOff(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let outcome = await engine.run("import sys\nfor _ in range(1024):\n    sys.stdout.write('x' * (1 << 20))", maxOutput: 1 << 20)
        #expect(outcome.status == .failed && outcome.outputTruncated)
        #expect(outcome.error == "output_limit: the job wrote more than 1048576 bytes to stdout")
        #expect(outcome.stdout.utf8.count == 1 << 20)
        await expectHealthy(engine, kind)
    }

    @Test(arguments: EngineKind.sandboxed) func signallingTheParentHurtsNobody(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let code = """
            import os, signal
            def main(worker):
                tried = {}
                for name, pid in [("parent", os.getppid()), ("init", 1), ("worker", worker)]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        tried[name] = "sent"
                    except OSError as error:
                        tried[name] = type(error).__name__
                try:
                    os.kill(-1, signal.SIGKILL)
                except OSError:
                    pass
                return tried
            """
        let outcome = await engine.run(code, inputs: ["worker": .number(Double(getpid()))])
        #expect(outcome.status == .succeeded, "\(outcome)")
        #expect(outcome.result?["worker"] == "ProcessLookupError", "the worker's pid does not exist in the sandbox")
        await expectHealthy(engine, kind)
    }

    @Test(arguments: EngineKind.sandboxed) func backgroundProcessesDieWithTheJob(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        let outcome = await engine.run("""
            import os, subprocess
            def main():
                subprocess.Popen(["sleep", "\(marker)"], start_new_session=True)
                if os.fork() == 0:
                    os.setsid()
                    os.execv("/usr/bin/sleep", ["sleep", "\(marker)"])
                return "left"
            """)
        #expect(outcome.result == "left", "\(outcome)")
        try await Task.sleep(for: .milliseconds(300))
        #expect(hostProcesses(containing: "sleep \(marker)").isEmpty)
        await expectHealthy(engine, kind)
    }

    @Test(arguments: EngineKind.sandboxed) func runsAsAnUnprivilegedUserWithNoWayToGainPrivileges(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let marker = "\(Int.random(in: 100_000...999_999)).75"
        // The job keeps a child running until the test has looked at it on the host.
        let code = """
            import ctypes, os, subprocess
            status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
            libc = ctypes.CDLL(None, use_errno=True)
            unshare = libc.unshare(0x10000000)  # CLONE_NEWUSER
            child = subprocess.Popen(["sleep", "\(marker)"])
            open("started", "w").close()
            \(holdUntilDone)
            child.kill()
            def main():
                return {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                        "no_new_privs": status["NoNewPrivs"].strip(), "caps": status["CapEff"].strip(),
                        "unshare": unshare, "hostname": os.uname().nodename}
            """
        let running = Task { await engine.run(code, timeout: 120) }
        let work = try await engine.workDirectory(holding: "started")
        var hostUID: String?
        try await waitUntil {
            if let line = hostProcesses(containing: "sleep \(marker)").first, let pid = line.split(separator: ":").first {
                hostUID = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8))?
                    .split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init)
            }
            return hostUID != nil
        }
        release(work)
        let outcome = await running.value
        #expect(outcome.result == ["uid": 1000, "gid": 1000, "groups": [], "no_new_privs": "1", "caps": "0000000000000000", "unshare": -1, "hostname": "sandbox"], "\(outcome)")
        let expected = geteuid() == 0 ? engine.configuration.sandboxUser.uid : geteuid()
        #expect(hostUID?.split(whereSeparator: \.isWhitespace).dropFirst().first == "\(expected)"[...], "on the host: \(hostUID ?? "not seen")")
        await expectHealthy(engine, kind)
    }
}

/// A TCP listener on a kernel-chosen loopback port that notes whether anything connected.
final class LoopbackListener: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 8) == 0 else { throw SandboxError.errno(errno, "listen") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    var acceptedAnything: Bool {
        let client = accept(fd, nil, nil)
        if client >= 0 { close(client) }
        return client >= 0
    }

    deinit { close(fd) }
}
