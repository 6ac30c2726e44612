import AgentOSStore
import AgentOSWire
import Foundation
import DequeModule
import HeapModule
import Synchronization

/// The queue in memory, owned by the bus thread: every queued job, grouped by placement, each
/// group a heap in dispatch order. Taking the next job for a set of workers costs a look at the
/// head of each group they can serve, never a scan of the jobs; a group no connected worker
/// can serve costs one check per dispatch round, however many jobs it holds.
///
/// The order is fair across projects and users (start-time fair queueing): higher priority
/// first; among equal priorities, jobs take turns by *share* (a project and a submitter) rather
/// than by age, so a thousand jobs queued by one user hold back another user's job by one
/// turn, not by a thousand. Turns are counted per line (a placement and a priority): each job
/// gets a round when it is queued, one past the last round its share holds in its line, but
/// never behind the round its line is dispatching now; a job queued again (its worker was
/// lost, or it was handed back) goes to the front, in that round. Then older first, then by
/// id. Between placements, whose rounds are counted apart, the dispatcher takes the higher
/// priority, then the older head (`precedes`).
///
/// It is a cache of the store's queue: rebuilt from it at start, told of every job entering the
/// queue (submit, hand-back, lost worker) and leaving it (assignment, cancel, queue timeout).
/// A job it still holds after the store moved it on is harmless: assigning it is a conditional
/// update that fails, and the entry is dropped. It also keeps how many jobs each user and
/// project has queued, for the submit quotas (`QueueCounts`).
struct ReadyIndex {
    /// A place in line; the heap's minimum is the next job to run.
    struct Entry: Comparable {
        let job: QueuedJob
        /// The job's turn among the shares of its placement.
        let round: Int
        /// Which insertion of this job the entry belongs to: a job removed and queued again
        /// leaves its old entry behind, which no longer counts.
        let generation: Int

        var id: String { job.id }

        static func < (lhs: Entry, rhs: Entry) -> Bool {
            if lhs.job.priority != rhs.job.priority { return lhs.job.priority > rhs.job.priority }
            if lhs.round != rhs.round { return lhs.round < rhs.round }
            if lhs.job.createdAt != rhs.job.createdAt { return lhs.job.createdAt < rhs.job.createdAt }
            return lhs.job.id < rhs.job.id
        }

        /// Whether this head goes before `other`, the head of another placement: their rounds
        /// are counted apart, so higher priority, then older, then by id.
        func precedes(_ other: Entry) -> Bool {
            if job.priority != other.job.priority { return job.priority > other.job.priority }
            if job.createdAt != other.job.createdAt { return job.createdAt < other.job.createdAt }
            return job.id < other.job.id
        }

        static func == (lhs: Entry, rhs: Entry) -> Bool {
            lhs.job.priority == rhs.job.priority && lhs.round == rhs.round && lhs.job.createdAt == rhs.job.createdAt && lhs.job.id == rhs.job.id
        }
    }

    /// Where turns are counted: jobs of one placement at one priority take turns among
    /// themselves, whatever other placements and priorities do.
    private struct Line: Hashable {
        let placement: QueuedJob.Placement
        let priority: Int
    }

    /// A share of a line: one submitter in one project.
    private struct Share: Hashable {
        let line: Line
        let projectID: String
        let submittedBy: String
    }

    private struct Group {
        var heap = Heap<Entry>()
        /// Jobs of the group that are really queued (the heap may also hold dropped entries).
        var count = 0
    }

    private var groups: [QueuedJob.Placement: Group] = [:]
    /// Every job in the index: its placement and the generation of its live entry.
    private var members: [String: (job: QueuedJob, generation: Int)] = [:]
    private var nextGeneration = 0
    /// Per line, the round of the job dispatched last: new shares start there.
    private var currentRound: [Line: Int] = [:]
    /// The last round each share holds; those at or behind their line's current round are
    /// forgotten now and then, as they would start there anyway.
    private var lastRound: [Share: Int] = [:]
    /// Jobs that left the queue before they reached it (cancelled while their submit was on
    /// its way to the bus): their late arrival is dropped. Oldest first, bounded.
    private var departed = Deque<String>()
    private var departedSet: Set<String> = []
    /// Jobs queued per user and project, for the quotas.
    let counts: QueueCounts

    /// An empty index, counting into `counts`.
    init(counts: QueueCounts = QueueCounts()) {
        self.counts = counts
    }

    /// How many jobs are queued.
    var count: Int { members.count }
    /// Whether nothing is queued.
    var isEmpty: Bool { members.isEmpty }
    /// Whether the job is in the index.
    func contains(_ id: String) -> Bool { members[id] != nil }
    /// The placements that have jobs queued.
    var placements: [QueuedJob.Placement] { Array(groups.keys) }

    /// Queues a job at the back of its share's line, or at the front (`again`: a job that was
    /// queued before); a job already queued keeps its place. `reserved`: its place in the
    /// quotas was counted when the API admitted it (`QueueCounts.reserve`).
    mutating func insert(_ job: QueuedJob, again: Bool = false, reserved: Bool = false) {
        guard members[job.id] == nil, departedSet.remove(job.id) == nil else {
            if reserved { counts.add(job, -1) }
            return
        }
        nextGeneration += 1
        members[job.id] = (job, nextGeneration)
        let line = Line(placement: job.placement, priority: job.priority)
        let share = Share(line: line, projectID: job.projectID, submittedBy: job.submittedBy)
        let now = currentRound[line] ?? 0
        let round: Int
        if again {
            round = now
        } else {
            round = max(now, (lastRound[share] ?? now - 1) + 1)
            lastRound[share] = round
        }
        if nextGeneration % 4096 == 0 {
            // Now and then: shares that would start at their line's round anyway, and the
            // lines of placements with nothing queued, are forgotten.
            currentRound = currentRound.filter { groups[$0.key.placement] != nil || $0.key == line }
            lastRound = lastRound.filter { $0.value > currentRound[$0.key.line] ?? 0 }
        }
        groups[job.placement, default: Group()].heap.insert(Entry(job: job, round: round, generation: nextGeneration))
        groups[job.placement]?.count += 1
        if !reserved { counts.add(job, 1) }
        counts.add(target: job.placement.target, 1)
    }

    /// Gives back the quota place the API reserved for `job`, which will not enter the index.
    func dropReservation(of job: QueuedJob) {
        counts.add(job, -1)
    }

    /// Takes a job out of the queue (cancelled, timed out, or assigned elsewhere). A job not
    /// in the index yet (`departing`: it left the queue in the store) is kept out when it comes.
    mutating func remove(_ id: String, departing: Bool = false) {
        guard let member = members.removeValue(forKey: id) else {
            if departing, departedSet.insert(id).inserted {
                departed.append(id)
                if departed.count > 65_536, let oldest = departed.popFirst() { departedSet.remove(oldest) }
            }
            return
        }
        counts.add(member.job, -1)
        counts.add(target: member.job.placement.target, -1)
        guard var group = groups.removeValue(forKey: member.job.placement) else { return }
        group.count -= 1
        guard group.count > 0 else { return }
        // Dropped entries deep in a heap whose head never runs would pile up: past twice the
        // live ones the heap is rebuilt from those alone.
        if group.heap.count > 2 * group.count + 1024 {
            group.heap = Heap(group.heap.unordered.filter { members[$0.id]?.generation == $0.generation })
        }
        groups[member.job.placement] = group
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
        let line = Line(placement: placement, priority: top.job.priority)
        currentRound[line] = max(currentRound[line] ?? 0, top.round)
        remove(top.id)
        return top
    }
}

/// How many jobs each user and each project has queued, for the queue quotas. A submit
/// reserves its place when the API admits it, checked against the quotas under one lock, so
/// concurrent submits never pass a quota; the bus's ready index takes the place over when the
/// job reaches it (or the API gives it back if the submit fails), and gives it up when the job
/// leaves the queue.
public final class QueueCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// No jobs counted yet.
    public init() {}

    /// Jobs `userID` has queued, in every project.
    func queued(user userID: String) -> Int { counts.withLock { $0["user:" + userID] ?? 0 } }

    /// Jobs queued in `projectID`.
    func queued(project projectID: String) -> Int { counts.withLock { $0["project:" + projectID] ?? 0 } }

    /// Jobs in the bus's queue for `target` (placed there; a submit being admitted is not yet).
    func queued(target: JobTarget) -> Int { counts.withLock { $0["target:" + target.rawValue] ?? 0 } }

    fileprivate func add(target: JobTarget, _ delta: Int) {
        counts.withLock { counts in
            let value = (counts["target:" + target.rawValue] ?? 0) + delta
            counts["target:" + target.rawValue] = value > 0 ? value : nil
        }
    }

    /// Counts a place for a job of `userID` in `projectID` if both are under their limit;
    /// otherwise counts nothing and says which is full and how many it holds.
    func reserve(user userID: String, project projectID: String, maxPerUser: Int, maxPerProject: Int) -> (project: Bool, queued: Int)? {
        counts.withLock { counts in
            let user = counts["user:" + userID] ?? 0
            let project = counts["project:" + projectID] ?? 0
            if user >= maxPerUser { return (false, user) }
            if project >= maxPerProject { return (true, project) }
            counts["user:" + userID] = user + 1
            counts["project:" + projectID] = project + 1
            return nil
        }
    }

    /// Gives back a place `reserve` counted, for a submit that queued nothing.
    func release(user userID: String, project projectID: String) {
        add(user: userID, project: projectID, -1)
    }

    fileprivate func add(_ job: QueuedJob, _ delta: Int) {
        add(user: job.submittedBy, project: job.projectID, delta)
    }

    private func add(user userID: String, project projectID: String, _ delta: Int) {
        counts.withLock { counts in
            for key in ["user:" + userID, "project:" + projectID] {
                let value = (counts[key] ?? 0) + delta
                counts[key] = value > 0 ? value : nil
            }
        }
    }
}
