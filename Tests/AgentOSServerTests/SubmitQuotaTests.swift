@testable import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import Testing

/// Nobody fills the queue for everyone: queued jobs and submit rates are limited per user and
/// project, and how far a job may jump the queue depends on the submitter's role.
@Suite struct SubmitQuotaTests {
    let start = Date(timeIntervalSince1970: 1_700_000_000)
    let cloud = QueuedJob.Placement(target: .cloud, owner: nil, requestedWorker: nil, labels: [])

    func queued(_ id: String, project: String, by user: String) -> QueuedJob {
        QueuedJob(id: id, priority: 0, createdAt: start, placement: cloud, projectID: project, submittedBy: user)
    }

    @Test func queuedJobsAreLimitedPerUserAndPerProject() throws {
        var limits = SubmitQuotas.Limits()
        limits.maxQueuedPerUser = 2
        limits.maxQueuedPerProject = 3
        let counts = QueueCounts()
        let quotas = SubmitQuotas(limits: limits, counts: counts)
        var index = ReadyIndex(counts: counts)
        index.insert(queued("a1", project: "p", by: "ann"))
        index.insert(queued("a2", project: "p", by: "ann"))
        #expect(throws: APIError.self) { try quotas.admit(user: "ann", project: "q", now: start) }
        try quotas.admit(user: "bob", project: "p", now: start)
        index.insert(queued("b1", project: "p", by: "bob"), reserved: true)
        do {
            try quotas.admit(user: "cat", project: "p", now: start)
            Issue.record("the project's quota was passed")
        } catch {
            #expect(error.status == 429 && error.headers["Retry-After"] == "5" && error.message.contains("this project has 3 jobs queued"))
        }
        // As jobs leave the queue, room comes back; a submit that queued nothing gives its
        // place back.
        index.remove("a1")
        try quotas.admit(user: "ann", project: "q", now: start)
        #expect(throws: APIError.self) { try quotas.admit(user: "ann", project: "q", now: start) }
        quotas.release(user: "ann", project: "q")
        try quotas.admit(user: "ann", project: "q", now: start)
    }

    @Test func concurrentSubmitsNeverPassAQueueQuota() async throws {
        var limits = SubmitQuotas.Limits()
        limits.maxQueuedPerUser = 1000
        let quotas = SubmitQuotas(limits: limits, counts: QueueCounts())
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var admitted = 0
                    for _ in 0..<200 where (try? quotas.admit(user: "ann", project: "p")) != nil { admitted += 1 }
                    return admitted
                }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted == 1000)
        #expect(quotas.counts.queued(user: "ann") == 1000)
    }

    @Test func submitRatesAreLimitedPerUserWithABurst() throws {
        var limits = SubmitQuotas.Limits()
        limits.submitsPerSecondPerUser = 2
        limits.submitBurstPerUser = 3
        let quotas = SubmitQuotas(limits: limits, counts: QueueCounts())
        for _ in 0..<3 { try quotas.admit(user: "ann", project: "p", now: start) }
        do {
            try quotas.admit(user: "ann", project: "p", now: start)
            Issue.record("the burst was passed")
        } catch {
            #expect(error.status == 429 && error.code == "rate_limited" && error.headers["Retry-After"] == "1")
        }
        try quotas.admit(user: "bob", project: "p", now: start)
        try quotas.admit(user: "ann", project: "p", now: start + 0.5)
    }

    @Test func howHighAPriorityMayBeDependsOnTheRole() async throws {
        let h = try await APIHarness()
        let owner = try h.user("owner")
        let project = try h.store.createProject(name: "p", owner: owner.id)
        var tokens: [ProjectRole: String] = [.owner: try await h.token(for: owner)]
        for role in [ProjectRole.runner, .editor] {
            let user = try h.user(role.rawValue)
            try h.store.setMember(projectID: project.id, userID: user.id, role: role)
            tokens[role] = try await h.token(for: user)
        }
        let cases: [(ProjectRole, Int, Int)] = [
            (.runner, 0, 202), (.runner, -5, 202), (.runner, 1, 403),
            (.editor, 100, 202), (.editor, 101, 403),
            (.owner, 1000, 202),
        ]
        for (role, priority, status) in cases {
            let reply = await h.call(.submitJob, token: tokens[role], params: ["project": "p"], body: ["code": "pass", "priority": .number(Double(priority))])
            #expect(reply.status == status, "\(role) at \(priority): \(reply.body)")
        }
    }
}
