import AgentOSWire
import Foundation
import Synchronization

/// What one user and one project may have queued, and how fast they may submit: past either,
/// a submit is answered `429 rate_limited` with `Retry-After`, so nobody can fill the queue or
/// the store for everyone else. Together with fair dispatch (`ReadyIndex`) it keeps one user
/// from starving the rest.
public final class SubmitQuotas: Sendable {
    /// The limits.
    public struct Limits: Sendable {
        /// Jobs one user may have queued, over all projects.
        public var maxQueuedPerUser = 10_000
        /// Jobs one project may have queued.
        public var maxQueuedPerProject = 50_000
        /// Submits a second one user may make, on average.
        public var submitsPerSecondPerUser = 1_000.0
        /// Submits one user may make at once before the average counts.
        public var submitBurstPerUser = 10_000.0
        /// Submits a second into one project, on average, after a burst of ten seconds' worth.
        public var submitsPerSecondPerProject = 2_000.0

        /// The defaults.
        public init() {}
    }

    private struct Bucket {
        var tokens: Double
        var at: Date
    }

    let limits: Limits
    let counts: QueueCounts
    private let buckets = Mutex<[String: Bucket]>([:])

    init(limits: Limits, counts: QueueCounts) {
        self.limits = limits
        self.counts = counts
    }

    /// Throws `429` when `userID` or `projectID` is over a quota; otherwise counts the submit
    /// and reserves its place in the queue, which the caller must `release` if the submit
    /// queues nothing (it fails, or returns an earlier job).
    func admit(user userID: String, project projectID: String, now: Date = Date()) throws(APIError) {
        try checkRate(user: userID, project: projectID, now: now)
        if let full = counts.reserve(user: userID, project: projectID, maxPerUser: limits.maxQueuedPerUser, maxPerProject: limits.maxQueuedPerProject) {
            throw Self.limited(
                full.project ? "this project has \(full.queued) jobs queued, the most a project may; submit more as they run"
                    : "you have \(full.queued) jobs queued, the most one user may; submit more as they run", after: 5)
        }
    }

    /// Gives back the place `admit` reserved.
    func release(user userID: String, project projectID: String) {
        counts.release(user: userID, project: projectID)
    }

    private func checkRate(user userID: String, project projectID: String, now: Date) throws(APIError) {
        let wait = buckets.withLock { buckets -> TimeInterval in
            let user = ("user:" + userID, limits.submitsPerSecondPerUser, limits.submitBurstPerUser)
            let project = ("project:" + projectID, limits.submitsPerSecondPerProject, 10 * limits.submitsPerSecondPerProject)
            var wait: TimeInterval = 0
            var refilled: [(String, Bucket)] = []
            for (key, rate, burst) in [user, project] {
                var bucket = buckets[key] ?? Bucket(tokens: burst, at: now)
                bucket.tokens = min(burst, bucket.tokens + max(0, now.timeIntervalSince(bucket.at)) * rate)
                bucket.at = now
                if bucket.tokens < 1 { wait = max(wait, (1 - bucket.tokens) / rate) }
                refilled.append((key, bucket))
            }
            // Taken from both only when both allow it.
            for (key, var bucket) in refilled {
                if wait == 0 { bucket.tokens -= 1 }
                buckets[key] = bucket
            }
            if buckets.count > 100_000 { buckets = buckets.filter { $0.value.tokens < 1 } }
            return wait
        }
        if wait > 0 { throw Self.limited("jobs are being submitted faster than this server allows one user or project", after: wait) }
    }

    private static func limited(_ message: String, after seconds: TimeInterval) -> APIError {
        .retryLater(429, "rate_limited", message, after: seconds)
    }
}
