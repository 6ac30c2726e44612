import AgentOSWire
import Foundation
import GRDB

// MARK: What sync keeps

extension DesktopStore {
    /// Records the projects the server lists for `account`. With `complete` (every project
    /// was listed), those no longer listed are marked inaccessible; their synced skills stay.
    public func saveProjects(_ projects: [LocalProject], account: Account, complete: Bool) throws {
        try writer.write { db in
            for project in projects { try project.save(db) }
            if complete {
                let listed = projects.map(\.id)
                _ = try LocalProject.filter(Column("account") == account.key && !listed.contains(Column("id")))
                    .updateAll(db, Column("accessible").set(to: false))
            }
        }
    }

    /// The account's projects, by name.
    public func projects(account: Account) throws -> [LocalProject] {
        try writer.read { db in try LocalProject.filter(Column("account") == account.key).order(Column("name")).fetchAll(db) }
    }

    /// The project called `nameOrID` (a name or an id).
    public func project(_ nameOrID: String, account: Account) throws -> LocalProject? {
        try writer.read { db in
            try LocalProject.filter(Column("account") == account.key && (Column("name") == nameOrID || Column("id") == nameOrID)).fetchOne(db)
        }
    }

    /// The versions of a skill held here.
    public func heldVersions(account: Account, projectID: String, skill: String) throws -> Set<Int> {
        try writer.read { db in
            Set(try Int.fetchAll(db, sql: "SELECT version FROM skill_versions WHERE account = ? AND project_id = ? AND skill = ?",
                                 arguments: [account.key, projectID, skill]))
        }
    }

    /// Keeps a fetched skill version (versions never change: a second copy is ignored).
    public func save(_ version: LocalSkillVersion) throws {
        try writer.write { db in try version.insert(db, onConflict: .ignore) }
    }

    /// Keeps an agent's configuration, replacing an older one.
    public func save(_ agent: LocalAgent) throws {
        try writer.write { db in try agent.save(db) }
    }

    /// The version `number` of a skill, or its latest held version.
    public func skillVersion(account: Account, projectID: String, skill: String, number: Int?) throws -> LocalSkillVersion? {
        try writer.read { db in
            var request = LocalSkillVersion.filter(Column("account") == account.key && Column("project_id") == projectID && Column("skill") == skill)
            if let number { request = request.filter(Column("version") == number) }
            return try request.order(Column("version").desc).fetchOne(db)
        }
    }

    /// The projects that hold a skill called `skill`.
    public func projectsHolding(skill: String, account: Account) throws -> [LocalProject] {
        try writer.read { db in
            try LocalProject.fetchAll(db, sql: """
                SELECT * FROM projects WHERE account = ? AND id IN
                    (SELECT project_id FROM skill_versions WHERE account = ? AND skill = ?) ORDER BY name
                """, arguments: [account.key, account.key, skill])
        }
    }

    /// The skills held for a project: each name with its versions, newest first.
    public func skills(account: Account, projectID: String) throws -> [(name: String, versions: [Int])] {
        try writer.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT skill, version FROM skill_versions WHERE account = ? AND project_id = ? ORDER BY skill, version DESC
                """, arguments: [account.key, projectID])
            var result: [(name: String, versions: [Int])] = []
            for row in rows {
                let name: String = row["skill"]
                let version: Int = row["version"]
                if result.last?.name == name { result[result.count - 1].versions.append(version) } else { result.append((name, [version])) }
            }
            return result
        }
    }

    /// The agents held for a project.
    public func agents(account: Account, projectID: String) throws -> [LocalAgent] {
        try writer.read { db in
            try LocalAgent.filter(Column("account") == account.key && Column("project_id") == projectID).order(Column("name")).fetchAll(db)
        }
    }

    /// Where the last sync of `kind` in a project left off.
    public func cursor(account: Account, projectID: String, kind: String) throws -> Date? {
        try writer.read { db in
            try Date.fetchOne(db, sql: "SELECT since FROM sync_cursors WHERE account = ? AND project_id = ? AND kind = ?",
                              arguments: [account.key, projectID, kind])
        }
    }

    /// Moves a sync cursor (never backwards).
    public func setCursor(_ since: Date, account: Account, projectID: String, kind: String) throws {
        try writer.write { db in
            try db.execute(sql: """
                INSERT INTO sync_cursors (account, project_id, kind, since) VALUES (?, ?, ?, ?)
                ON CONFLICT (account, project_id, kind) DO UPDATE SET since = max(since, excluded.since)
                """, arguments: [account.key, projectID, kind, since])
        }
    }
}

// MARK: Local runs and the outbox

extension DesktopStore {
    /// Records a run that is starting (`status` running, not in the outbox yet).
    public func insert(_ run: LocalRun) throws -> LocalRun {
        var run = run
        try writer.write { db in try run.insert(db) }
        return run
    }

    /// Records how a run ended and puts it in the outbox, in one transaction.
    public func finish(_ run: LocalRun) throws {
        var run = run
        run.syncState = .pending
        try writer.write { db in try run.update(db) }
    }

    /// Runs left `running` by a process that is gone (killed, crashed) end as failed and go
    /// to the outbox: the server hears of them too. Returns how many.
    @discardableResult
    public func recoverInterrupted(now: Date = Date()) throws -> Int {
        try writer.write { db in
            let stale = try LocalRun.filter(Column("status") == JobStatus.running.rawValue).fetchAll(db).filter { run in
                !ProcessIdentity.isAlive(run.process)
            }
            for var run in stale {
                run.status = JobStatus.failed.rawValue
                run.error = "interrupted: the desktop process running it stopped before it ended"
                run.finishedAt = now
                run.syncState = .pending
                try run.update(db)
            }
            return stale.count
        }
    }

    /// The oldest runs of the outbox for `account`, in order.
    public func pendingRuns(account: Account, limit: Int) throws -> [LocalRun] {
        try writer.read { db in
            try LocalRun.filter(Column("account") == account.key && Column("sync_state") == SyncState.pending.rawValue)
                .order(Column("seq")).limit(limit).fetchAll(db)
        }
    }

    /// Marks runs as on the server, with the job id it gave each.
    public func markSynced(_ receipts: [(runID: String, jobID: String)], at now: Date = Date()) throws {
        try writer.write { db in
            for receipt in receipts {
                _ = try LocalRun.filter(Column("id") == receipt.runID).updateAll(
                    db, Column("sync_state").set(to: SyncState.synced.rawValue), Column("server_job_id").set(to: receipt.jobID),
                    Column("synced_at").set(to: now), Column("sync_error").set(to: nil))
            }
        }
    }

    /// Marks runs as refused for good, with why.
    public func markRejected(_ runIDs: [String], reason: String) throws {
        try writer.write { db in
            _ = try LocalRun.filter(runIDs.contains(Column("id"))).updateAll(
                db, Column("sync_state").set(to: SyncState.rejected.rawValue), Column("sync_error").set(to: reason),
                Column("sync_attempts") += 1)
        }
    }

    /// Notes a failed push of runs that stay in the outbox.
    public func noteFailedPush(_ runIDs: [String], reason: String) throws {
        try writer.write { db in
            _ = try LocalRun.filter(runIDs.contains(Column("id"))).updateAll(db, Column("sync_error").set(to: reason), Column("sync_attempts") += 1)
        }
    }

    /// The account's runs, newest first.
    public func runs(account: Account, limit: Int) throws -> [LocalRun] {
        try writer.read { db in
            try LocalRun.filter(Column("account") == account.key).order(Column("seq").desc).limit(limit).fetchAll(db)
        }
    }

    /// Puts the account's refused runs back in the outbox, in their order; returns how many.
    @discardableResult
    public func requeueRejected(account: Account) throws -> Int {
        try writer.write { db in
            try LocalRun.filter(Column("account") == account.key && Column("sync_state") == SyncState.rejected.rawValue)
                .updateAll(db, Column("sync_state").set(to: SyncState.pending.rawValue))
        }
    }

    /// How many of the account's runs are in each sync state.
    public func runCounts(account: Account) throws -> [SyncState: Int] {
        try writer.read { db in
            var counts: [SyncState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT sync_state, count(*) AS n FROM runs WHERE account = ? GROUP BY sync_state", arguments: [account.key]) {
                if let state = SyncState(rawValue: row["sync_state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    /// Runs of other accounts still waiting to sync: they go only when that account logs in.
    public func pendingElsewhere(account: Account) throws -> Int {
        try writer.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM runs WHERE account != ? AND sync_state = 'pending'", arguments: [account.key]) ?? 0
        }
    }
}
