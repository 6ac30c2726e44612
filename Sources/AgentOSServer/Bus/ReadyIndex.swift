import AgentOSStore
import AgentOSWire
import Foundation
import HeapModule

/// The queue in memory, owned by the bus thread: every queued job, grouped by placement, each
/// group a heap in dispatch order (higher priority first, then older, then by id). Taking the
/// next job for a set of workers costs a look at the head of each group they can serve, never a
/// scan of the jobs; a group no connected worker can serve costs one check per dispatch round,
/// however many jobs it holds.
///
/// It is a cache of the store's queue: rebuilt from it at start, told of every job entering the
/// queue (submit, hand-back, lost worker) and leaving it (assignment, cancel, queue timeout).
/// A job it still holds after the store moved it on is harmless: assigning it is a conditional
/// update that fails, and the entry is dropped.
struct ReadyIndex {
    /// A place in line; the heap's minimum is the next job to run.
    struct Entry: Comparable {
        let priority: Int
        let createdAt: Date
        let id: String
        /// Which insertion of this job the entry belongs to: a job removed and queued again
        /// leaves its old entry behind, which no longer counts.
        let generation: Int

        static func < (lhs: Entry, rhs: Entry) -> Bool {
            if lhs.priority != rhs.priority { return lhs.priority > rhs.priority }
            if lhs.createdAt != rhs.createdAt { return lhs.createdAt < rhs.createdAt }
            return lhs.id < rhs.id
        }

        static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.priority == rhs.priority && lhs.createdAt == rhs.createdAt && lhs.id == rhs.id
        }
    }

    private struct Group {
        var heap = Heap<Entry>()
        /// Jobs of the group that are really queued (the heap may also hold dropped entries).
        var count = 0
    }

    private var groups: [QueuedJob.Placement: Group] = [:]
    /// Every job in the index: its placement and the generation of its live entry.
    private var members: [String: (placement: QueuedJob.Placement, generation: Int)] = [:]
    private var nextGeneration = 0

    /// How many jobs are queued.
    var count: Int { members.count }
    /// Whether nothing is queued.
    var isEmpty: Bool { members.isEmpty }
    /// Whether the job is in the index.
    func contains(_ id: String) -> Bool { members[id] != nil }
    /// The placements that have jobs queued.
    var placements: [QueuedJob.Placement] { Array(groups.keys) }

    /// Queues a job; a job already queued keeps its place.
    mutating func insert(_ job: QueuedJob) {
        guard members[job.id] == nil else { return }
        nextGeneration += 1
        members[job.id] = (job.placement, nextGeneration)
        groups[job.placement, default: Group()].heap.insert(
            Entry(priority: job.priority, createdAt: job.createdAt, id: job.id, generation: nextGeneration))
        groups[job.placement]?.count += 1
    }

    /// Takes a job out of the queue (cancelled, timed out, or assigned elsewhere).
    mutating func remove(_ id: String) {
        guard let member = members.removeValue(forKey: id), var group = groups.removeValue(forKey: member.placement) else { return }
        group.count -= 1
        guard group.count > 0 else { return }
        // Dropped entries deep in a heap whose head never runs would pile up: past twice the
        // live ones the heap is rebuilt from those alone.
        if group.heap.count > 2 * group.count + 1024 {
            group.heap = Heap(group.heap.unordered.filter { members[$0.id]?.generation == $0.generation })
        }
        groups[member.placement] = group
    }

    /// Entries a placement's heap holds, dropped ones included.
    func storedEntries(of placement: QueuedJob.Placement) -> Int { groups[placement]?.heap.count ?? 0 }

    /// The next job of a placement, without taking it.
    mutating func head(of placement: QueuedJob.Placement) -> Entry? {
        guard var group = groups[placement] else { return nil }
        // Dropped entries at the top are discarded on the way.
        groups[placement] = nil
        defer { groups[placement] = group }
        while let top = group.heap.min {
            if members[top.id]?.generation == top.generation { return top }
            group.heap.removeMin()
        }
        return nil
    }

    /// Takes the next job of a placement.
    mutating func popHead(of placement: QueuedJob.Placement) -> Entry? {
        guard let top = head(of: placement) else { return nil }
        remove(top.id)
        return top
    }
}
