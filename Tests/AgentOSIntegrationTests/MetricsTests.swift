import AgentOSWire
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The operator's view: the gateway's `GET /metrics` carries the server's metrics (the queue
/// by target, jobs by outcome, queue waits and runs, dispatches, workers by kind, missed
/// heartbeats, the bus's commits) in valid Prometheus text, and the Grafana dashboard in
/// docs/ asks only for metrics that are there.
@Suite struct MetricsTests {
    /// The exposition's samples by name with labels (`name{a="b"}`), after checking its form:
    /// every family declared once, every sample line `name{labels} value`.
    static func parse(_ text: String) throws -> [String: Double] {
        var declared: [String: Int] = [:]
        var samples: [String: Double] = [:]
        let sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$/
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                declared[String(line.split(separator: " ")[2]), default: 0] += 1
            } else if !line.hasPrefix("#") {
                let match = try #require(try sample.wholeMatch(in: String(line)), "not a sample line: \(line)")
                samples[String(match.1) + String(match.2 ?? "")] = Double(match.3) ?? .nan
            }
        }
        let twice = declared.filter { $0.value > 1 }.keys.sorted()
        #expect(twice.isEmpty, "families declared twice: \(twice)")
        return samples
    }

    func scrape(_ cluster: Cluster) async throws -> [String: Double] {
        let (data, response) = try await URLSession.shared.data(from: URL(string: cluster.gatewayURL + "/metrics")!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        return try Self.parse(String(decoding: data, as: UTF8.self))
    }

    @Test func theGatewayServesTheServersMetrics() async throws {
        let cluster = try Cluster()
        defer { cluster.shutdown() }
        let admin = try await cluster.boot(workers: ["cloud-1": 1])
        try await cluster.waitForWorkers(["cloud-1"], token: admin)
        for code in ["def main():\n    return 1", "def main():\n    raise ValueError('no')"] {
            let (status, job) = try await cluster.http("POST", "/api/v1/projects/default/jobs?wait=60", body: ["code": .string(code)], token: admin)
            #expect(status == 200, "\(job)")
        }
        // No private worker: this one waits in the queue.
        let (queuedStatus, queued) = try await cluster.http(
            "POST", "/api/v1/projects/default/jobs", body: ["code": "def main():\n    return 1", "target": "private"], token: admin)
        #expect(queuedStatus == 202, "\(queued)")

        var metrics: [String: Double] = [:]
        try await cluster.waitFor("the metrics to show the jobs", timeout: 60) {
            metrics = try await scrape(cluster)
            return metrics["agentos_jobs_finished_total{status=\"failed\"}"] == 1 && metrics["agentos_jobs_queued{target=\"private\"}"] == 1
        }
        #expect(metrics["agentos_jobs_finished_total{status=\"succeeded\"}"] == 1, "\(metrics)")
        #expect(metrics["agentos_jobs_queued{target=\"cloud\"}"] == 0)
        #expect(metrics["agentos_jobs_dispatched_total"] == 2)
        #expect(metrics["agentos_job_queue_wait_seconds_count"] == 2)
        #expect(metrics["agentos_job_run_duration_seconds_count"] == 2)
        #expect((metrics["agentos_bus_commit_duration_seconds_count"] ?? 0) >= 2)
        #expect(metrics["agentos_workers{kind=\"cloud\"}"] == 1 && metrics["agentos_workers{kind=\"private\"}"] == 0)
        #expect(metrics["agentos_heartbeats_missed_total"] == 0)
        #expect(metrics["agentos_bus_results_pending"] == 0)
        #expect(metrics["agentos_gateway_server_up"] == 1)

        // A cancel ends a job through the API, not the bus: it is counted too.
        let queuedID = try #require(queued["id"]?.stringValue)
        let (cancelStatus, cancelled) = try await cluster.http("POST", "/api/v1/jobs/\(queuedID)/cancel", token: admin)
        #expect(cancelStatus == 200 && cancelled["status"] == "cancelled", "\(cancelled)")
        try await cluster.waitFor("the cancel to be counted", timeout: 60) {
            let now = try await scrape(cluster)
            return now["agentos_jobs_finished_total{status=\"cancelled\"}"] == 1 && now["agentos_jobs_queued{target=\"private\"}"] == 0
        }

        // A worker that falls silent is counted once the server gives up on it.
        try await cluster.kill("cloud-1", signal: SIGSTOP, wait: false)
        try await cluster.waitFor("the silent worker to be dropped", timeout: 60) {
            try await scrape(cluster)["agentos_heartbeats_missed_total"] == 1
        }
        try await cluster.kill("cloud-1", signal: SIGKILL)

        // Every metric the dashboard asks for is one a scrape gives.
        let dashboard = try JSONValue.parse(try Data(contentsOf: Cluster.repositoryRoot.appendingPathComponent("docs/grafana-dashboard.json")))
        let names = Set(metrics.keys.map { String($0.prefix { $0 != "{" }) })
        let expressions = (dashboard["panels"]?.arrayValue ?? []).flatMap { $0["targets"]?.arrayValue ?? [] }.compactMap { $0["expr"]?.stringValue }
        #expect(!expressions.isEmpty)
        for expression in expressions {
            for match in expression.matches(of: /agentos_[a-z_]+/) {
                #expect(names.contains(String(match.0)), "the dashboard asks for \(match.0), which no scrape gives")
            }
        }
    }
}
