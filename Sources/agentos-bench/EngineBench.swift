// Times a small job (`def main(): return 1`) through the engine, in process: in a bubblewrap
// sandbox started cold for each job, in one forked by a fork server for each job, from the
// warm pool (forked), and, for comparison, unsandboxed. Prints one line per way: the median
// and p99 latency one job at a time, the machine's CPU per job, and the rate with 4 in flight.
import AgentOSSandbox
import AgentOSWire
import Foundation

private let job = JobAssignment(jobID: "bench", attempt: 1, code: "def main():\n    return 1", inputs: [:], limits: JobLimits(timeoutSeconds: 30))

private func percentile(_ values: [Double], _ q: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
}

/// CPU time used by the whole machine so far, in milliseconds (sandboxes are not all children
/// of this process, so its own usage would miss them).
private func machineCPUMilliseconds() -> Double {
    guard let line = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n").first else { return 0 }
    let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy = fields.enumerated().filter { $0.offset != 3 && $0.offset != 4 && $0.offset < 8 }.reduce(0) { $0 + $1.element }
    return busy * 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
}

private func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000
}

private func runChecked(_ engine: SandboxEngine) async throws {
    let outcome = await engine.run(job, inputFiles: nil)
    guard outcome.status == .succeeded, outcome.result == 1 else {
        throw SandboxError("the job failed: \(outcome.error ?? "") \(outcome.stderr)")
    }
}

private func measure(_ label: String, isolation: SandboxIsolation, forkServer: Bool, pool: Int, runs: Int) async throws {
    let state = NSTemporaryDirectory() + "agentos-bench-\(UUID().uuidString.lowercased())"
    defer { try? FileManager.default.removeItem(atPath: state) }
    var configuration = try SandboxConfiguration(isolation: isolation, stateDirectory: state)
    configuration.warmPoolSize = pool
    configuration.forkServer = forkServer
    let engine = try SandboxEngine(configuration: configuration)
    defer { engine.close() }
    // The first few warm up the page cache (and start the fork server).
    for _ in 0..<3 { try await runChecked(engine) }
    var times: [Double] = []
    var cpu = 0.0
    for _ in 0..<runs {
        // A job arriving when the pool is full: wait for the refill between jobs.
        while pool > 0 && engine.warmSandboxes < pool { try await Task.sleep(for: .milliseconds(2)) }
        let cpuBefore = machineCPUMilliseconds()
        let start = ContinuousClock.now
        try await runChecked(engine)
        times.append(milliseconds(ContinuousClock.now - start))
        cpu += machineCPUMilliseconds() - cpuBefore
    }
    // Four in flight, back to back (the pool, if any, refills as it can).
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for lane in 0..<4 {
            group.addTask { for _ in stride(from: lane, to: runs, by: 4) { try await runChecked(engine) } }
        }
        try await group.waitForAll()
    }
    let rate = Double(runs) / (milliseconds(ContinuousClock.now - start) / 1000)
    let used = forkServer && !engine.isForking ? " (fork servers failed: cold)" : ""
    print("\(label)\(used): \(runs) jobs, median \(String(format: "%.1f", percentile(times, 0.5))) ms, p99 \(String(format: "%.1f", percentile(times, 0.99))) ms, "
        + "machine CPU \(String(format: "%.1f", cpu / Double(runs))) ms per job; 4 in flight \(String(format: "%.0f", rate)) jobs/s")
}

/// The ways a job can run in the engine bench.
enum EngineWay: String, CaseIterable {
    case cold, forked, warm, unsandboxed
}

/// The `ways` asked for, `runs` jobs each.
func benchEngine(runs: Int, ways: [EngineWay]) async throws {
    guard let bwrap = SandboxConfiguration.findBubblewrap() else {
        FileHandle.standardError.write(Data("agentos-bench: bubblewrap is not installed\n".utf8))
        exit(1)
    }
    for way in ways {
        switch way {
        case .cold: try await measure("engine, bubblewrap started cold per job", isolation: .bubblewrap(bwrap), forkServer: false, pool: 0, runs: runs)
        case .forked: try await measure("engine, forked by the fork server per job", isolation: .bubblewrap(bwrap), forkServer: true, pool: 0, runs: runs)
        case .warm: try await measure("engine, forked, warm pool of 2", isolation: .bubblewrap(bwrap), forkServer: true, pool: 2, runs: runs)
        case .unsandboxed: try await measure("engine, unsandboxed cold (for comparison)", isolation: .none, forkServer: false, pool: 0, runs: runs)
        }
    }
}
