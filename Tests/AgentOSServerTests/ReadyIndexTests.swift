@testable import AgentOSServer
import AgentOSStore
import Foundation
import Testing

@Suite struct ReadyIndexTests {
    let cloud = QueuedJob.Placement(target: .cloud, owner: nil, requestedWorker: nil, labels: [])
    let gpu = QueuedJob.Placement(target: .cloud, owner: nil, requestedWorker: nil, labels: ["gpu"])
    let base = Date(timeIntervalSince1970: 1_000_000)

    func job(_ id: String, priority: Int = 0, age: Double, _ placement: QueuedJob.Placement? = nil) -> QueuedJob {
        QueuedJob(id: id, priority: priority, createdAt: base + age, placement: placement ?? cloud)
    }

    @Test func headIsHigherPriorityThenOlderThenLowerID() {
        var index = ReadyIndex()
        index.insert(job("new", age: 10))
        index.insert(job("old", age: 0))
        index.insert(job("urgent", priority: 5, age: 20))
        index.insert(job("b-twin", age: 0))
        var order: [String] = []
        while let next = index.popHead(of: cloud) { order.append(next.id) }
        #expect(order == ["urgent", "b-twin", "old", "new"])
        #expect(index.isEmpty && index.placements.isEmpty, "an emptied placement is gone")
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
        #expect(index.popHead(of: cloud)?.priority == 0)
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
