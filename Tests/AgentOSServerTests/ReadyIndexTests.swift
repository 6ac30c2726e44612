@testable import AgentOSServer
import AgentOSStore
import Foundation
import Testing

@Suite struct ReadyIndexTests {
    let cloud = QueuedJob.Placement(target: .cloud, owner: nil, requestedWorker: nil, labels: [])
    let gpu = QueuedJob.Placement(target: .cloud, owner: nil, requestedWorker: nil, labels: ["gpu"])
    let base = Date(timeIntervalSince1970: 1_000_000)

    func job(
        _ id: String, priority: Int = 0, age: Double, _ placement: QueuedJob.Placement? = nil, project: String = "p", by user: String = "u"
    ) -> QueuedJob {
        QueuedJob(id: id, priority: priority, createdAt: base + age, placement: placement ?? cloud, projectID: project, submittedBy: user)
    }

    @Test func headIsHigherPriorityThenFirstQueuedThenOlderThenLowerID() {
        var index = ReadyIndex()
        index.insert(job("old", age: 0))
        index.insert(job("new", age: 10))
        index.insert(job("urgent", priority: 5, age: 20))
        // Queued again after losing its worker: the front of the line, older first.
        index.insert(job("b-back", age: 0), again: true)
        index.insert(job("a-back", age: 0), again: true)
        var order: [String] = []
        while let next = index.popHead(of: cloud) { order.append(next.id) }
        #expect(order == ["urgent", "a-back", "b-back", "old", "new"])
        #expect(index.isEmpty && index.placements.isEmpty, "an emptied placement is gone")
    }

    @Test func usersAndProjectsTakeTurns() {
        var index = ReadyIndex()
        for n in 0..<1000 { index.insert(job("flood-\(n)", age: Double(n), by: "flooder")) }
        index.insert(job("other-user", age: 2000, by: "other"))
        index.insert(job("other-project", age: 2001, project: "q", by: "flooder"))
        let first = (0..<4).compactMap { _ in index.popHead(of: cloud)?.id }
        #expect(first == ["flood-0", "other-user", "other-project", "flood-1"], "one turn each, not a thousand")
        // A share that arrives late starts in the round being dispatched, not behind the flood
        // and not ahead of turns already taken.
        for _ in 0..<500 { _ = index.popHead(of: cloud) }
        index.insert(job("late", age: 3000, by: "late"))
        #expect(index.popHead(of: cloud)?.id == "late")
        #expect(index.popHead(of: cloud)?.id == "flood-502")
        #expect(index.counts.queued(user: "flooder") == 497 && index.counts.queued(project: "p") == 497)
        #expect(index.counts.queued(user: "late") == 0 && index.counts.queued(project: "q") == 0)
    }

    @Test func turnsAreCountedPerPlacementAndPriority() {
        var index = ReadyIndex()
        // Rounds dispatched in one placement do not put a newcomer to another behind anyone.
        for n in 0..<5 { index.insert(job("cpu-a-\(n)", age: 100 + Double(n), by: "a")) }
        for n in 0..<50 { index.insert(job("gpu-\(n)", age: Double(n), gpu, by: "gpu-user")) }
        for _ in 0..<40 { _ = index.popHead(of: gpu) }
        index.insert(job("cpu-b", age: 200, by: "b"))
        #expect((0..<2).compactMap { _ in index.popHead(of: cloud)?.id } == ["cpu-a-0", "cpu-b"])
        // A user's low-priority backlog does not hold back their own urgent job among others'.
        for n in 0..<20 { index.insert(job("low-\(n)", priority: -5, age: 300 + Double(n), by: "c")) }
        index.insert(job("other-urgent", priority: 50, age: 400, by: "d"))
        index.insert(job("own-urgent", priority: 50, age: 401, by: "c"))
        #expect((0..<2).compactMap { _ in index.popHead(of: cloud)?.id } == ["other-urgent", "own-urgent"])
    }

    @Test func aJobCancelledBeforeItReachedTheIndexNeverEntersAndGivesItsPlaceBack() {
        var index = ReadyIndex()
        let early = job("early", age: 0, by: "u")
        _ = index.counts.reserve(user: "u", project: "p", maxPerUser: 10, maxPerProject: 10)
        index.remove("early", departing: true)
        index.insert(early, reserved: true)
        #expect(!index.contains("early") && index.counts.queued(user: "u") == 0 && index.counts.queued(project: "p") == 0)
        // Only once: queued again later, it enters.
        index.insert(early, again: true)
        #expect(index.contains("early") && index.counts.queued(user: "u") == 1)
    }

    @Test func removedJobsNeverComeBackAndRequeuedOnesTakeTheirNewPlace() {
        var index = ReadyIndex()
        index.insert(job("a", age: 0))
        index.insert(job("b", age: 1))
        index.insert(job("c", age: 2))
        index.remove("a")
        index.insert(job("a", priority: -1, age: 0))  // back in the queue, now behind the others
        index.remove("b")
        #expect(index.count == 2)
        #expect(index.popHead(of: cloud)?.id == "c")
        #expect(index.popHead(of: cloud)?.id == "a")
        #expect(index.popHead(of: cloud) == nil)
    }

    @Test func insertingAQueuedJobAgainKeepsItsPlace() {
        var index = ReadyIndex()
        index.insert(job("a", age: 0))
        index.insert(job("a", priority: 9, age: 5))
        #expect(index.count == 1)
        #expect(index.popHead(of: cloud)?.job.priority == 0)
        #expect(index.popHead(of: cloud) == nil, "one entry, not two")
    }

    @Test func placementsAreSeparateQueues() {
        var index = ReadyIndex()
        index.insert(job("plain", age: 1))
        index.insert(job("needs-gpu", age: 0, gpu))
        #expect(Set(index.placements) == [cloud, gpu])
        #expect(index.head(of: cloud)?.id == "plain")
        #expect(index.head(of: gpu)?.id == "needs-gpu")
        #expect(index.contains("plain"))
    }

    @Test func cancelledEntriesDeepInAStuckQueueDoNotPileUp() {
        var index = ReadyIndex()
        index.insert(job("stuck", priority: 9, age: 0))
        for n in 0..<20_000 {
            index.insert(job("j\(n)", age: Double(n) + 1))
            index.remove("j\(n)")
        }
        #expect(index.count == 1)
        #expect(index.storedEntries(of: cloud) < 3000, "the heap was rebuilt from its live entries")
        #expect(index.popHead(of: cloud)?.id == "stuck")
    }
}
