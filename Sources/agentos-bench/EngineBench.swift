// Times a small job (`def main(): return 1`) through the sandboxed engine, in process: cold
// (a new sandbox per job) and warm (a ready sandbox from the pool per job), and, for
// comparison, unsandboxed. Prints one line per way.
import AgentOSSandbox
import AgentOSWire
import Foundation

private let job = JobAssignment(jobID: "bench", attempt: 1, code: "def main():\n    return 1", inputs: [:], limits: JobLimits(timeoutSeconds: 30))

private func percentile(_ values: [Double], _ q: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
}

private func measure(_ label: String, isolation: SandboxIsolation, pool: Int, runs: Int) async throws {
    let state = NSTemporaryDirectory() + "agentos-bench-\(UUID().uuidString.lowercased())"
    defer { try? FileManager.default.removeItem(atPath: state) }
    var configuration = try SandboxConfiguration(isolation: isolation, stateDirectory: state)
    configuration.warmPoolSize = pool
    let engine = try SandboxEngine(configuration: configuration)
    defer { engine.shutdown() }
    var times: [Double] = []
    for index in 0..<(runs + 3) {
        // A job arriving when the pool is full: wait for the refill between jobs.
        while pool > 0 && engine.warmSandboxes < pool { try await Task.sleep(for: .milliseconds(2)) }
        let start = ContinuousClock.now
        let outcome = await engine.run(job)
        let elapsed = ContinuousClock.now - start
        guard outcome.status == .succeeded, outcome.result == 1 else {
            throw SandboxError("the job failed: \(outcome.error ?? "") \(outcome.stderr)")
        }
        // The first few warm up the page cache.
        if index >= 3 { times.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000) }
    }
    let median = percentile(times, 0.5)
    print("\(label): \(runs) jobs, median \(String(format: "%.1f", median)) ms, p99 \(String(format: "%.1f", percentile(times, 0.99))) ms")
}

/// The three ways, `runs` jobs each.
func benchEngine(runs: Int) async throws {
    guard let bwrap = SandboxConfiguration.findBubblewrap() else {
        FileHandle.standardError.write(Data("agentos-bench: bubblewrap is not installed\n".utf8))
        exit(1)
    }
    try await measure("engine, cold sandbox per job", isolation: .bubblewrap(bwrap), pool: 0, runs: runs)
    try await measure("engine, warm pool", isolation: .bubblewrap(bwrap), pool: 2, runs: runs)
    try await measure("engine, unsandboxed cold (for comparison)", isolation: .none, pool: 0, runs: runs)
}
