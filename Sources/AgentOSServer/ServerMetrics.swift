import AgentOSStore
import AgentOSWire
import Foundation
import Prometheus

/// The server's Prometheus metrics (`agentos_*`), which the gateway serves at `GET /metrics`
/// beside its own (it asks the server with the `metrics` operation at each scrape). Counters
/// and histograms are bumped where things happen (the bus thread, for most); gauges of state
/// (the queue by target, the workers by kind) are read at the scrape.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let queueCounts: QueueCounts
    private let directory: WorkerDirectory
    private let dispatched: Counter
    private let heartbeatsMissed: Counter
    private let queueWait: DurationHistogram
    private let runDuration: DurationHistogram
    private let commitDuration: DurationHistogram
    private let resultsPending: Gauge
    private let queued: [JobTarget: Gauge]
    private let workers: [WorkerKind: Gauge]
    private let finished: [JobStatus: Counter]

    /// From a fraction of a second to a day: queue waits and runs both span that.
    static let jobBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10), .seconds(60),
        .seconds(300), .seconds(1800), .seconds(7200), .seconds(86_400),
    ]
    /// A bus commit: one SQLite transaction.
    static let commitBuckets: [Duration] = [
        .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .seconds(1),
    ]

    /// Metrics reading the queue from `queueCounts` and the fleet from `directory`.
    public init(queueCounts: QueueCounts, directory: WorkerDirectory) {
        let registry = self.registry
        self.queueCounts = queueCounts
        self.directory = directory
        func name(_ metric: String, _ unit: String? = nil, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "agentos", metricName: metric, unitName: unit, helpText: help)
        }
        dispatched = registry.makeCounter(descriptor: name("jobs_dispatched", "total", "Jobs handed to a worker (each attempt)"))
        heartbeatsMissed = registry.makeCounter(descriptor: name(
            "heartbeats_missed", "total", "Workers dropped for silence: no message within their dead-peer timeout"))
        queueWait = registry.makeDurationHistogram(
            descriptor: name("job_queue_wait", "seconds", "From a job's submit to its dispatch"), buckets: Self.jobBuckets)
        runDuration = registry.makeDurationHistogram(
            descriptor: name("job_run_duration", "seconds", "A job's run on its worker, as the worker timed it"), buckets: Self.jobBuckets)
        commitDuration = registry.makeDurationHistogram(
            descriptor: name("bus_commit_duration", "seconds", "One bus commit: the results, assignments and workers of a loop iteration"),
            buckets: Self.commitBuckets)
        resultsPending = registry.makeGauge(descriptor: name(
            "bus_results_pending", nil, "Results received from workers and not yet recorded: the bus's outbox of results, written by its next commit"))
        queued = Dictionary(uniqueKeysWithValues: [JobTarget.cloud, .private].map { target in
            (target, registry.makeGauge(descriptor: name("jobs_queued", nil, "Jobs waiting for a worker, by target"), labels: [("target", target.rawValue)]))
        })
        workers = Dictionary(uniqueKeysWithValues: [WorkerKind.cloud, .private].map { kind in
            (kind, registry.makeGauge(descriptor: name("workers", nil, "Workers connected to the server, by kind"), labels: [("kind", kind.rawValue)]))
        })
        finished = Dictionary(uniqueKeysWithValues: JobStatus.allCases.filter(\.isFinal).map { status in
            (status, registry.makeCounter(descriptor: name("jobs_finished", "total", "Jobs that ended, by outcome"), labels: [("status", status.rawValue)]))
        })
    }

    func jobDispatched(waited: TimeInterval) {
        dispatched.increment()
        queueWait.record(.milliseconds(Int64(max(0, waited) * 1000)))
    }

    func jobFinished(_ status: JobStatus) { finished[status]?.increment() }

    func resultRecorded(runMS: Int) { runDuration.record(.milliseconds(Int64(max(0, runMS)))) }

    func workerDroppedForSilence() { heartbeatsMissed.increment() }

    func committed(results pending: Int, took duration: Duration) {
        commitDuration.record(duration)
        resultsPending.set(to: Double(pending))
    }

    func resultsWaiting(_ count: Int) { resultsPending.set(to: Double(count)) }

    /// The exposition text (Prometheus 0.0.4), the gauges of state read now.
    public func exposition() -> [UInt8] {
        for (target, gauge) in queued { gauge.set(to: Double(queueCounts.queued(target: target))) }
        let fleet = directory.countsByKind
        for (kind, gauge) in workers { gauge.set(to: Double(fleet[kind] ?? 0)) }
        return registry.emitToBuffer()
    }
}
