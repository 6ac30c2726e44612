@testable import AgentOSSandbox
import AgentOSWire
import Foundation
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What sandboxes forked by a fork server must add to the guarantees every sandbox gives
/// (`HostileJobTests` runs those on forked sandboxes too): nothing of one job reaches the next,
/// nothing of the server reaches a job, and a server that dies is replaced.
@Suite struct ForkServerTests {
    @Test func noStateCarriesFromOneJobToTheNext() async throws {
        let engine = try EngineKind.forked.engine()
        let marker = "\(Int.random(in: 100_000...999_999)).5"
        // The first job leaves what it can: in its interpreter, its environment, its files,
        // shared memory and a process of its own.
        let first = await engine.run("""
            import builtins, json, os, random, subprocess, sys
            def main():
                builtins.agentos_marker = "set"
                json.agentos_marker = "set"
                sys.modules["agentos_left"] = json
                os.environ["AGENTOS_LEFT"] = "1"
                open("/tmp/left", "w").write("x")
                open("/dev/shm/left", "w").write("x")
                open("/work/left", "w").write("x")
                subprocess.Popen(["sleep", "\(marker)"], start_new_session=True)
                return {"random": random.random()}
            """)
        let second = await engine.run("""
            import builtins, json, os, random, sys
            def main():
                return {
                    "left": [getattr(builtins, "agentos_marker", None), getattr(json, "agentos_marker", None),
                             "agentos_left" in sys.modules, os.environ.get("AGENTOS_LEFT")],
                    "files": sorted(os.listdir("/tmp") + os.listdir("/dev/shm") + os.listdir("/work")),
                    "processes": sorted(open("/proc/%s/comm" % p).read().strip() for p in os.listdir("/proc") if p.isdigit()),
                    "random": random.random(),
                }
            """)
        #expect(first.status == .succeeded && second.status == .succeeded, "\(first) \(second)")
        #expect(engine.forkedStarts == 2 && engine.coldStarts == 0, "both jobs were forked")
        #expect(second.result?["left"] == [.null, .null, false, .null], "\(second)")
        #expect(second.result?["files"] == ["job.py"], "only its own code in /work, nothing in /tmp or /dev/shm")
        #expect(second.result?["processes"]?.arrayValue?.count == 2, "its init and itself: \(second.result?["processes"] ?? .null)")
        #expect(first.result?["random"] != second.result?["random"], "each job seeds its own random numbers")
        #expect(hostProcesses(containing: "sleep \(marker)").isEmpty, "the first job's process died with it")
        engine.close()
    }

    @Test func eachJobHasNamespacesOfItsOwn() async throws {
        let engine = try EngineKind.forked.engine()
        let marker = "marker-\(UUID().uuidString)"
        let namespaces = """
            import os
            def main():
                return sorted(os.readlink("/proc/self/ns/" + n) for n in os.listdir("/proc/self/ns") if not n.startswith("time"))
            """
        // Two jobs alive at once (an ended job's namespace numbers may be given out again): the
        // first runs until the test writes `done` into its work dir.
        let first = Task { await engine.run("open('\(marker)', 'w').close()\n" + holdUntilDone + "\n" + namespaces, timeout: 120) }
        let firstWork = try await engine.workDirectory(holding: marker)
        let second = await engine.run(namespaces)
        release(firstWork)
        let firstOutcome = await first.value
        let host = Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/ns")) ?? []).filter { !$0.hasPrefix("time") }
            .compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/" + $0) })
        let a = Set(firstOutcome.result?.arrayValue?.compactMap(\.stringValue) ?? [])
        let b = Set(second.result?.arrayValue?.compactMap(\.stringValue) ?? [])
        // User, mount, PID, IPC, UTS, network and cgroup: none shared with the other job or the host.
        #expect(a.count >= 7 && b.count == a.count, "\(firstOutcome) \(second)")
        #expect(a.isDisjoint(with: b), "shared by two jobs: \(a.intersection(b))")
        #expect(a.isDisjoint(with: host) && b.isDisjoint(with: host), "shared with the host: \(a.union(b).intersection(host))")
        engine.close()
    }

    @Test func manyJobsAtOnceEachEndWithTheirOwnStatus() async throws {
        let engine = try EngineKind.forked.engine()
        // Each job's exit code is its own: the status a forked sandbox's init reports must
        // reach the engine however its end and the engine's reads interleave.
        let outcomes = await withTaskGroup(of: (Int, JobOutcome).self) { group in
            for index in 0..<96 {
                group.addTask { (index, await engine.run("import sys\nprint(\(index))\nsys.exit(\(index % 4))")) }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for (index, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
            #expect(outcome.stdout == "\(index)\n", "\(outcome)")
            if index % 4 == 0 {
                #expect(outcome.status == .succeeded && outcome.exitCode == 0, "\(outcome)")
            } else {
                #expect(outcome.exitCode == index % 4 && outcome.error == "exit: the job called sys.exit(\(index % 4))", "\(outcome)")
            }
        }
        #expect(engine.coldStarts == 0, "every job was forked")
        engine.close()
    }

    @Test func nothingOfTheServerReachesTheJob() async throws {
        let engine = try EngineKind.forked.engine()
        let outcome = await engine.run("""
            import ctypes, errno, os
            def main():
                mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
                kinds = [line.split(" - ")[1].split()[0] for line in open("/proc/self/mountinfo")]
                seen = {"root": sorted(os.listdir("/")), "mounts": mounts, "proc_mounts": kinds.count("proc"),
                        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))}
                for path in ["/.agentos", "/proc/1/environ", "/proc/1/fd", "/proc/1/root/work"]:
                    try:
                        os.listdir(path) if not path.endswith("environ") else open(path).read()
                        seen[path] = "readable"
                    except OSError as error:
                        seen[path] = type(error).__name__
                libc = ctypes.CDLL(None, use_errno=True)
                failed = libc.mount(b"proc", b"/work", b"proc", 0, None) != 0
                seen["mount"] = errno.errorcode[ctypes.get_errno()] if failed else "mounted"
                return seen
            """)
        let seen = try #require(outcome.result?.objectValue, "\(outcome)")
        // The sandbox's root is its own layout: the server's mounts (its jobs root, the host's
        // /proc) are not covered but gone from its mount namespace.
        #expect(seen["/.agentos"] == "FileNotFoundError")
        let root = Set(seen["root"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        #expect(root.isSuperset(of: ["usr", "etc", "proc", "dev", "tmp", "work"]) && !root.contains(".agentos"), "\(root)")
        let mounts = seen["mounts"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(!mounts.isEmpty && mounts.allSatisfy { !$0.contains("agentos") }, "\(mounts)")
        #expect(seen["proc_mounts"] == 1, "only its own /proc")
        for path in ["/proc/1/environ", "/proc/1/fd", "/proc/1/root/work"] {
            #expect(seen[path] == "PermissionError", "its init is not dumpable: \(path): \(seen[path] ?? .null)")
        }
        #expect(seen["fds"] == [0, 1, 2, 3, 4], "none of the server's descriptors")
        #expect(seen["mount"] == "EPERM", "no mounts without capabilities")
        engine.close()
    }

    @Test func aServerThatDiesIsReplacedAndCloseStopsThemAll() async throws {
        let engine = try EngineKind.forked.engine()
        let servers = try #require(engine.starter.forkServers as? ForkServers)
        let first = await engine.run("def main():\n    return 1")
        #expect(first.result == 1, "\(first)")
        let killed = try #require(servers.processIDs.first)
        kill(killed, SIGKILL)
        let second = await engine.run("def main():\n    return 2")
        #expect(second.result == 2, "\(second)")
        #expect(engine.isForking && engine.coldStarts == 0, "the next job was forked by a new server")
        let running = servers.processIDs
        #expect(running.count == 1 && running != [killed], "\(running)")
        engine.close()
        #expect(servers.processIDs.isEmpty)
        #expect(running.allSatisfy { kill($0, 0) != 0 }, "closing the engine ends its servers")
    }

    @Test func forksThatFailStartColdAndRestTheServersForAWhile() async throws {
        // A starter whose forks always fail, over a real launcher: every sandbox still starts
        // (cold), each fork is tried twice, and after three such starts forking rests.
        let engine = try EngineKind.forked.engine()
        let forks = FailingForks()
        let elapsed = Mutex(Duration.zero)
        let start = ContinuousClock.now
        let starter = SandboxStarter(
            launcher: engine.launcher, forkServers: forks, coolDown: .seconds(300),
            now: { start + elapsed.withLock { $0 } }, logger: Logger(label: "test"))
        for _ in 0..<SandboxStarter.maxForkFailures {
            let sandbox = try starter.start(.plain, timeout: .seconds(60))
            sandbox.kill()
            sandbox.directory.remove()
        }
        #expect(starter.coldStarts == SandboxStarter.maxForkFailures && starter.forkedStarts == 0)
        #expect(forks.attempts.withLock { $0 } == 2 * SandboxStarter.maxForkFailures, "each start tried to fork twice")
        #expect(forks.released.withLock { $0 } == 1, "the servers were released")
        #expect(!starter.isForking, "resting")
        let rested = try starter.start(.plain, timeout: .seconds(60))
        rested.kill()
        rested.directory.remove()
        #expect(forks.attempts.withLock { $0 } == 2 * SandboxStarter.maxForkFailures, "no fork while resting")
        elapsed.withLock { $0 = .seconds(299) }
        #expect(!starter.isForking, "still resting")
        // After the cool-down, forking is tried again.
        elapsed.withLock { $0 = .seconds(300) }
        #expect(starter.isForking)
        let again = try starter.start(.plain, timeout: .seconds(60))
        again.kill()
        again.directory.remove()
        #expect(forks.attempts.withLock { $0 } == 2 * SandboxStarter.maxForkFailures + 2)
        engine.close()
    }

    @Test func jobsWithTheNetworkShareTheHostsAndOthersHaveNone() async throws {
        let engine = try EngineKind.forked.engine()
        let listener = try LoopbackListener()
        let code = """
            import socket
            def main(port):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=5).close()
                    return "connected"
                except OSError as error:
                    return error.strerror
            """
        let allowed = await engine.run(code, inputs: ["port": .number(Double(listener.port))], network: true)
        #expect(allowed.result == "connected", "\(allowed)")
        #expect(listener.acceptedAnything)
        let refused = await engine.run(code, inputs: ["port": .number(Double(listener.port))])
        #expect(refused.result == "Network is unreachable", "\(refused)")
        #expect(engine.forkedStarts == 2 && engine.coldStarts == 0)
        engine.close()
    }
}

/// Fork servers that never fork, counting what they were asked.
final class FailingForks: SandboxForking {
    let attempts = Mutex(0)
    let released = Mutex(0)

    func start(_ profile: SandboxProfile) throws -> SandboxProcess {
        attempts.withLock { $0 += 1 }
        throw SandboxError("this fork server cannot fork")
    }

    func releaseAll() { released.withLock { $0 += 1 } }
    func stop() {}
    var isStopped: Bool { false }
}
