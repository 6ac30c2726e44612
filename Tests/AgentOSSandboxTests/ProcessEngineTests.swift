import AgentOSSandbox
import AgentOSWire
import Foundation
import Testing

@Suite struct ProcessEngineTests {
    let engine: ProcessEngine

    init() throws {
        engine = try ProcessEngine()
    }

    func run(_ code: String, inputs: [String: JSONValue] = [:], timeout: Double = 20, maxOutput: Int = 1 << 20) async -> JobOutcome {
        await engine.run(JobAssignment(
            jobID: UUID().uuidString, attempt: 1, code: code, inputs: inputs,
            limits: JobLimits(timeoutSeconds: timeout, maxOutputBytes: maxOutput)))
    }

    @Test func namedEntrypointsAndInputFiles() async throws {
        let called = await engine.run(JobAssignment(
            jobID: "e", attempt: 1, code: "def handle(x):\n    return x * 2", inputs: ["x": 21], limits: JobLimits(), entrypoint: "handle"))
        #expect(called.status == .succeeded)
        #expect(called.result == 42)
        let missing = await engine.run(JobAssignment(
            jobID: "m", attempt: 1, code: "def main():\n    return 1", inputs: [:], limits: JobLimits(), entrypoint: "handle"))
        #expect(missing.status == .failed)
        #expect(missing.error?.hasPrefix("entrypoint_missing") == true, "\(missing.error ?? "")")

        let staged = NSTemporaryDirectory() + "agentos-staged-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: staged, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staged) }
        try "hello".write(toFile: staged + "/in.txt", atomically: true, encoding: .utf8)
        let read = await engine.run(JobAssignment(
            jobID: "f", attempt: 1, code: "import os\ndef main():\n    return [open('files/in.txt').read(), oct(os.stat('files/in.txt').st_mode & 0o777)]",
            inputs: [:], limits: JobLimits()), inputFiles: staged)
        #expect(read.result == ["hello", "0o444"], "\(read)")
    }

    /// Whether a process is still alive (a zombie awaiting its reaper counts as dead).
    func isAlive(_ pid: Int) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        guard let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    @Test func callsMainWithInputsAndReturnsItsResult() async {
        let outcome = await run("def main(n, name):\n    print('hello', name)\n    return {'sum': sum(range(n))}", inputs: ["n": 1000, "name": "x"])
        #expect(outcome.status == .succeeded)
        #expect(outcome.result == ["sum": 499500])
        #expect(outcome.stdout == "hello x\n")
        #expect(outcome.exitCode == 0)
    }

    @Test func moduleWithoutMainSucceedsWithNullResult() async {
        let outcome = await run("print('top level')")
        #expect(outcome.status == .succeeded && outcome.result == .null && outcome.stdout == "top level\n")
    }

    @Test func exceptionFailsWithItsTypeAndTraceback() async {
        let outcome = await run("def main():\n    raise ValueError('boom')")
        #expect(outcome.status == .failed)
        #expect(outcome.error == "exception: ValueError: boom")
        #expect(outcome.stderr.contains("Traceback") && outcome.stderr.contains("job.py"))
        #expect(!outcome.stderr.contains("agentos_runner"), "the runner's own frames are hidden")
    }

    @Test func nonJSONResultFails() async {
        let outcome = await run("def main():\n    return object()")
        #expect(outcome.status == .failed)
        #expect(outcome.error?.hasPrefix("result_not_json") == true)
    }

    @Test func sysExitWithNonZeroFails() async {
        let outcome = await run("import sys\nsys.exit(3)")
        #expect(outcome.status == .failed && outcome.exitCode == 3)
    }

    @Test func wallTimeLimitKillsTheWholeProcessGroup() async throws {
        let code = """
            import subprocess, sys, time
            child = subprocess.Popen(['sleep', '60'])
            print(child.pid, flush=True)
            time.sleep(60)
            """
        let outcome = await run(code, timeout: 1)
        #expect(outcome.status == .timedOut)
        #expect(outcome.error?.hasPrefix("timed_out") == true)
        let grandchild = try #require(Int(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(!isAlive(grandchild), "the sleeping grandchild died with the job")
    }

    @Test func backgroundProcessLeftBehindIsKilled() async throws {
        let outcome = await run("import subprocess\ndef main():\n    return subprocess.Popen(['sleep', '60']).pid")
        #expect(outcome.status == .succeeded)
        let pid = try #require(outcome.result?.intValue)
        #expect(!isAlive(pid))
    }

    @Test func outputIsCappedAndMarkedTruncated() async {
        let outcome = await run("import sys\nsys.stdout.write('x' * 5_000_000)\nsys.stderr.write('e' * 10)", maxOutput: 1024)
        #expect(outcome.status == .succeeded)
        #expect(outcome.stdout.utf8.count == 1024)
        #expect(outcome.stderr == "eeeeeeeeee")
        #expect(outcome.outputTruncated)
    }

    @Test func jobSeesACleanEnvironment() async {
        setenv("AGENTOS_TEST_SECRET", "do-not-leak", 1)
        let outcome = await run("import os\ndef main():\n    return sorted(os.environ)")
        let names = outcome.result?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(outcome.status == .succeeded)
        #expect(!names.contains("AGENTOS_TEST_SECRET"))
        #expect(names.contains("PATH"))
    }

    @Test func workDirectoryIsPrivateAndRemovedAfterwards() async throws {
        let outcome = await run("import os\ndef main():\n    return os.getcwd()")
        let directory = try #require(outcome.result?.stringValue)
        #expect(directory.contains("agentos-job-"))
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func cancellingTheTaskStopsTheJob() async {
        let engine = self.engine
        let task = Task {
            await engine.run(JobAssignment(jobID: "c", attempt: 1, code: "import time\ntime.sleep(60)", inputs: [:], limits: JobLimits(timeoutSeconds: 60)))
        }
        try? await Task.sleep(for: .milliseconds(300))
        task.cancel()
        let outcome = await task.value
        #expect(outcome.status == .cancelled)
    }
}

@Suite struct ProcessEngineLimitTests {
    @Test func resultOverTheLimitFailsWithOutputLimit() async throws {
        let outcome = await (try ProcessEngine()).run(JobAssignment(
            jobID: "big", attempt: 1, code: "def main():\n    return 'x' * (5 * 1024 * 1024)", inputs: [:], limits: JobLimits()))
        #expect(outcome.status == .failed)
        #expect(outcome.error?.hasPrefix("output_limit") == true)
        #expect(outcome.result == nil)
    }
}
