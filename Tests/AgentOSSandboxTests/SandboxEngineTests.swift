@testable import AgentOSSandbox
import AgentOSWire
import Foundation
import Synchronization
import Testing

/// Engines for tests, each with its own state directory under the temp dir.
enum TestEngines {
    /// A bubblewrap engine (scripts/test installs bubblewrap).
    static func sandboxed(warmPool: Int = 0, configure: (inout SandboxConfiguration) -> Void = { _ in }) throws -> SandboxEngine {
        guard let bwrap = SandboxConfiguration.findBubblewrap() else { throw SandboxError("bubblewrap is not installed") }
        return try make(.bubblewrap(bwrap), warmPool: warmPool, configure: configure)
    }

    static func make(_ isolation: SandboxIsolation, warmPool: Int = 0, configure: (inout SandboxConfiguration) -> Void = { _ in }) throws -> SandboxEngine {
        var configuration = try SandboxConfiguration(isolation: isolation, stateDirectory: temporaryDirectory("agentos-sandbox-test"))
        configuration.warmPoolSize = warmPool
        configure(&configuration)
        return try SandboxEngine(configuration: configuration)
    }

    static func temporaryDirectory(_ prefix: String) -> String {
        NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.lowercased())"
    }
}

/// The engines jobs run on in tests: bubblewrap sandboxes forked by fork servers, or each
/// started cold (bubblewrap and a fresh interpreter), and no sandbox at all.
enum EngineKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case forked, cold, unsandboxed

    static let sandboxed: [EngineKind] = [.forked, .cold]

    var testDescription: String { rawValue }

    /// An engine of this kind, without a warm pool.
    func engine() throws -> SandboxEngine {
        switch self {
        case .forked: try TestEngines.sandboxed { $0.forkServer = true }
        case .cold: try TestEngines.sandboxed { $0.forkServer = false }
        case .unsandboxed: try TestEngines.make(.none)
        }
    }
}

extension SandboxEngine {
    func run(_ code: String, inputs: [String: JSONValue] = [:], timeout: Double = 30, maxOutput: Int = 1 << 20,
             memoryMB: Int? = nil, network: Bool = false, requirements: String = "", entrypoint: String = "main",
             inputFiles: String? = nil) async -> JobOutcome {
        await run(JobAssignment(
            jobID: UUID().uuidString, attempt: 1, code: code, inputs: inputs,
            limits: JobLimits(timeoutSeconds: timeout, maxOutputBytes: maxOutput, memoryMB: memoryMB, network: network),
            entrypoint: entrypoint, requirements: requirements), inputFiles: inputFiles)
    }
}

/// Waits until `condition` holds, checking every 20 ms, for at most `timeout` (generous: a
/// loaded machine may take long); returns whether it held.
@discardableResult
func waitUntil(timeout: Duration = .seconds(120), _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(20))
    }
    return true
}

/// Python lines that hold a job until the test writes `done` into its work dir (or for a
/// minute), for tests that look at a job while it runs.
let holdUntilDone = """
    import os as _os, time as _time
    _deadline = _time.time() + 60
    while not _os.path.exists("done") and _time.time() < _deadline:
        _time.sleep(0.02)
    """

extension SandboxEngine {
    /// The host path of the work dir of this engine's sandbox that holds `file`, once one does.
    func workDirectory(holding file: String) async throws -> String {
        let jobsRoot = launcher.jobsRoot
        var work: String?
        try await waitUntil {
            work = ((try? FileManager.default.contentsOfDirectory(atPath: jobsRoot)) ?? [])
                .map { jobsRoot + "/" + $0 + "/work" }.first { FileManager.default.fileExists(atPath: $0 + "/" + file) }
            return work != nil
        }
        return try #require(work, "a sandbox's work dir holds \(file)")
    }
}

/// Tells a job held by `holdUntilDone` in `work` to go on.
func release(_ work: String) {
    FileManager.default.createFile(atPath: work + "/done", contents: nil)
}

/// Host processes whose command line contains `marker`.
func hostProcesses(containing marker: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.filter { Int($0) != nil }.compactMap { pid in
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        return line.contains(marker) ? "\(pid): \(line)" : nil
    }
}

/// What every engine does, sandboxed or not: the runner's contract with the job.
@Suite struct SandboxEngineTests {

    @Test(arguments: EngineKind.allCases)
    func callsMainWithInputsAndReturnsItsResult(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let outcome = await engine.run("def main(n, name):\n    print('hello', name)\n    return {'sum': sum(range(n))}", inputs: ["n": 1000, "name": "x"])
        #expect(outcome.status == .succeeded, "\(outcome)")
        #expect(outcome.result == ["sum": 499500])
        #expect(outcome.stdout == "hello x\n")
        #expect(outcome.exitCode == 0)

        let module = await engine.run("print('top level')")
        #expect(module.status == .succeeded && module.result == .null && module.stdout == "top level\n")

        let failing = await engine.run("def main():\n    raise ValueError('boom')")
        #expect(failing.status == .failed)
        #expect(failing.error == "exception: ValueError: boom")
        #expect(failing.stderr.contains("Traceback") && failing.stderr.contains("job.py"))
        #expect(!failing.stderr.contains("<string>"), "the runner's own frames are hidden")

        let notJSON = await engine.run("def main():\n    return object()")
        #expect(notJSON.error?.hasPrefix("result_not_json") == true)

        let exit = await engine.run("import sys\nsys.exit(3)")
        #expect(exit.status == .failed && exit.exitCode == 3 && exit.error == "exit: the job called sys.exit(3)")

        let named = await engine.run("def handle(x):\n    return x * 2", inputs: ["x": 21], entrypoint: "handle")
        #expect(named.result == 42)
        let missing = await engine.run("def main():\n    return 1", entrypoint: "handle")
        #expect(missing.error?.hasPrefix("entrypoint_missing") == true, "\(missing.error ?? "")")

        let big = await engine.run("def main():\n    return 'x' * (5 * 1024 * 1024)")
        #expect(big.status == .failed && big.result == nil)
        #expect(big.error?.hasPrefix("output_limit: the result") == true, "\(big.error ?? "")")
    }

    @Test(arguments: EngineKind.allCases)
    func outputReachesTheHandlerWhileTheJobRuns(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let heard = Mutex<[UInt8]>([])
        let streams = Mutex<Set<String>>([])
        let job = JobAssignment(
            jobID: UUID().uuidString, attempt: 1, code: "import sys, time\nprint('first')\nprint('oops', file=sys.stderr)\ntime.sleep(300)",
            inputs: [:], limits: JobLimits(timeoutSeconds: 300))
        let run = Task {
            await engine.run(job, context: JobRunContext(onOutput: { stream, bytes in
                heard.withLock { $0 += bytes }
                streams.withLock { _ = $0.insert("\(stream)") }
            }))
        }
        // The job sleeps for minutes after printing: only a live handler hears it this early.
        let arrived = try await waitUntil { heard.withLock { $0.count } >= "first\noops\n".utf8.count }
        #expect(arrived, "the handler heard \(heard.withLock { $0 })")
        run.cancel()
        let outcome = await run.value
        #expect(outcome.status == .cancelled)
        #expect(outcome.stdout == "first\n" && outcome.stderr == "oops\n", "the outcome still has the whole output")
        #expect(streams.withLock { $0 } == ["stdout", "stderr"])
    }

    @Test(arguments: EngineKind.allCases)
    func inputFilesAreReadOnlyCopies(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let staged = TestEngines.temporaryDirectory("agentos-staged")
        try FileManager.default.createDirectory(atPath: staged, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staged) }
        try "hello".write(toFile: staged + "/in.txt", atomically: true, encoding: .utf8)
        let code = """
            import os
            def main():
                try:
                    open('files/in.txt', 'w').write('changed')
                    wrote = True
                except OSError:
                    wrote = False
                return [open('files/in.txt').read(), oct(os.stat('files/in.txt').st_mode & 0o777), wrote]
            """
        let read = await engine.run(code, inputFiles: staged)
        let values = read.result?.arrayValue ?? []
        #expect(values.count == 3 && values[1] == "0o444", "\(read)")
        // Unsandboxed, a root worker's job can write anything; a sandboxed job cannot.
        if engine.isSandboxed { #expect(values.first == "hello" && values.last == false, "a job cannot change its input files") }
        #expect(try String(contentsOfFile: staged + "/in.txt", encoding: .utf8) == "hello")
    }

    @Test(arguments: EngineKind.allCases)
    func outputPastTheCapKillsTheJob(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let outcome = await engine.run("import sys, time\nsys.stderr.write('e' * 10)\nwhile True:\n    sys.stdout.write('x' * 65536)", maxOutput: 1024)
        #expect(outcome.status == .failed)
        #expect(outcome.error == "output_limit: the job wrote more than 1024 bytes to stdout", "\(outcome.error ?? "")")
        #expect(outcome.stdout.utf8.count == 1024)
        #expect(outcome.stderr == "eeeeeeeeee")
        #expect(outcome.outputTruncated)
    }

    @Test(arguments: EngineKind.allCases)
    func wallTimeAndCancelStopTheWholeTree(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let marker = "\(Int.random(in: 100_000...999_999)).25"
        let code = """
            import subprocess, time
            subprocess.Popen(['sh', '-c', 'sleep \(marker) & sleep \(marker)'])
            time.sleep(60)
            """
        let outcome = await engine.run(code, timeout: 1.5)
        #expect(outcome.status == .timedOut)
        #expect(outcome.error == "timed_out: the job ran longer than 1.5s")
        #expect(hostProcesses(containing: "sleep \(marker)").isEmpty, "the sleeping grandchildren died with the job")

        let task = Task { await engine.run("import time\ntime.sleep(60)", timeout: 60) }
        try await Task.sleep(for: .milliseconds(500))
        task.cancel()
        #expect(await task.value.status == .cancelled)
    }

    @Test(arguments: EngineKind.allCases)
    func cleanEnvironmentAndWorkDirectoryRemovedAfterwards(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        setenv("AGENTOS_TEST_SECRET", "do-not-leak", 1)
        let outcome = await engine.run("import os\ndef main():\n    open('left.txt', 'w').write('x')\n    return [sorted(os.environ), os.getcwd()]")
        let names = outcome.result?.arrayValue?.first?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(outcome.status == .succeeded)
        #expect(Set(names).isSubset(of: ["PATH", "HOME", "TMPDIR", "LANG", "USER", "LOGNAME", "LC_CTYPE", "PWD", "VIRTUAL_ENV", "MALLOC_ARENA_MAX"]), "\(names)")
        // The directories go right after the outcome is handed back.
        let jobs = engine.launcher.jobsRoot
        try await waitUntil { try FileManager.default.contentsOfDirectory(atPath: jobs).isEmpty }
        #expect(try FileManager.default.contentsOfDirectory(atPath: jobs).isEmpty, "no work dir is left in \(jobs)")
    }

    @Test func memoryLimitEndsTheJobWithItsReason() async throws {
        let engine = try TestEngines.sandboxed()
        let outcome = await engine.run("def main():\n    blocks = []\n    while True:\n        blocks.append(bytearray(16 << 20))", memoryMB: 200)
        #expect(outcome.status == .failed)
        #expect(outcome.error == "memory_limit: the job needed more than 200 MiB", "\(outcome)")
        let fine = await engine.run("def main():\n    return len(bytearray(50 << 20))", memoryMB: 200)
        #expect(fine.result == 52_428_800)
    }
}
