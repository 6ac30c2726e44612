@testable import AgentOSSandbox
import AgentOSWire
import Foundation
import Testing

@Suite struct WarmPoolTests {
    /// Waits until `engine` has `count` warm sandboxes.
    func waitForWarm(_ engine: SandboxEngine, _ count: Int) async throws {
        try await waitUntil { engine.warmSandboxes >= count }
        #expect(engine.warmSandboxes == count)
    }

    /// CPU ticks used so far by the processes of the sandboxes led by `roots` (bubblewrap,
    /// its init and the waiting runner; forked, the sandbox's init and the runner), and how
    /// many there are.
    func ticks(under roots: [pid_t]) -> (processes: Int, ticks: Int) {
        var parent: [Int: Int] = [:]
        var used: [Int: Int] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            parent[pid] = Int(fields[1]) ?? 0
            used[pid] = (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
        }
        let roots = Set(roots.map(Int.init))
        var processes = 0
        var ticks = 0
        for (pid, cpu) in used {
            var current = pid
            while current > 1, !roots.contains(current) { current = parent[current] ?? 0 }
            if roots.contains(current) {
                processes += 1
                ticks += cpu
            }
        }
        return (processes, ticks)
    }

    @Test func warmSandboxesRunOneJobEachAndAreReplaced() async throws {
        let engine = try TestEngines.sandboxed(warmPool: 2)
        defer { engine.shutdown() }
        try await waitForWarm(engine, 2)
        try await Task.sleep(for: .seconds(1))
        // How long the job's interpreter had been running when the job started: a warm one was
        // started well before.
        let age = """
            import os, builtins
            def main():
                ticks = os.sysconf("SC_CLK_TCK")
                started = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]) / ticks
                uptime = float(open("/proc/uptime").read().split()[0])
                seen = getattr(builtins, "agentos_marker", None)
                builtins.agentos_marker = "set"
                open("/tmp/left", "w").write("x")
                return {"age": uptime - started, "seen": seen, "left": sorted(os.listdir("/tmp")) == ["left"]}
            """
        let first = await engine.run(age)
        let second = await engine.run(age)
        for outcome in [first, second] {
            #expect(outcome.status == .succeeded, "\(outcome)")
            #expect((outcome.result?["age"]?.doubleValue ?? 0) > 0.5, "a warm interpreter: \(outcome.result ?? .null)")
            #expect(outcome.result?["seen"] == .null, "a fresh interpreter for each job")
            #expect(outcome.result?["left"] == true, "a fresh /tmp for each job")
        }
        // Both were replaced in the background.
        try await waitForWarm(engine, 2)

        // Idle sandboxes use no CPU.
        let idle = try #require(engine.pool?.idleProcesses)
        let before = ticks(under: idle)
        try await Task.sleep(for: .seconds(2))
        let after = ticks(under: idle)
        let perSandbox = engine.isForking ? 2 : 3
        #expect(before.processes == 2 * perSandbox, "two sandboxes of \(perSandbox) processes each: \(before.processes)")
        #expect(after.ticks == before.ticks, "idle runners used \(after.ticks - before.ticks) ticks")

        // Jobs that need the network or an environment start their own sandbox; cold start works too.
        let cold = try TestEngines.sandboxed(warmPool: 0)
        let outcome = await cold.run(age)
        #expect(outcome.status == .succeeded && (outcome.result?["age"]?.doubleValue ?? 9) < 5)
    }

    @Test func shutdownKillsIdleSandboxes() async throws {
        let engine = try TestEngines.sandboxed(warmPool: 1)
        try await waitForWarm(engine, 1)
        let jobs = engine.launcher.jobsRoot
        #expect(try FileManager.default.contentsOfDirectory(atPath: jobs).count == 1)
        engine.shutdown()
        try await waitUntil { (try? FileManager.default.contentsOfDirectory(atPath: jobs))?.isEmpty == true }
        #expect(engine.warmSandboxes == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: jobs).isEmpty, "the idle sandbox's directory is gone")
    }
}
