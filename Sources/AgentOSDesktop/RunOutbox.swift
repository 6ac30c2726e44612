import AgentOSAPI
import AgentOSClient
import AgentOSWire
import Foundation

/// The outbox: local runs reach the server through `POST /projects/{p}/runs`, oldest first.
///
/// A run is recorded (and its outcome committed) before any push, and marked synced only
/// after the server's receipt: a desktop killed at any moment pushes it again later, and the
/// server, which keeps one record per run id, answers `created: false` for a repeat. So every
/// run reaches the server once, whatever stops the desktop when.
///
/// A run the server refuses for good (403/404: the account lost the project; 400: a record it
/// cannot take) is marked `rejected` with the reason and never retried. Offline, a 429 or a
/// server failure leave the outbox as it is; the caller retries later with backoff.
public struct RunOutbox: Sendable {
    /// Runs posted at once at most, and the bytes of one post at most (the gateway takes 8 MiB).
    public static let maxRunsPerPost = 100
    public static let maxPostBytes = 6 << 20
    /// A record's budget: its output is cut (with `output_truncated`) to fit.
    public static let maxRecordBytes = 5 << 20
    /// The server's limits on a record's fields.
    static let maxStreamBytes = 4 << 20
    static let maxDataBytes = 8 << 20
    static let maxErrorBytes = 4096

    public let store: DesktopStore
    public let client: GatewayClient
    public let account: Account
    /// Serializes pushes among this account's desktop processes; `nil` pushes without it.
    public let lockPath: String?
    /// How long one post may take.
    public let timeout: TimeInterval

    public init(store: DesktopStore, client: GatewayClient, account: Account, lockPath: String?, timeout: TimeInterval = 60) {
        self.store = store
        self.client = client
        self.account = account
        self.lockPath = lockPath
        self.timeout = timeout
    }

    /// How a push ended.
    public struct Report: Sendable, Equatable {
        /// Runs the server now holds (new or already there).
        public var synced = 0
        /// Runs refused for good in this push.
        public var rejected = 0
        /// Runs still waiting.
        public var waiting = 0
        /// Why the push stopped early (offline, a server failure, the login), or nil when the
        /// outbox is empty or only refused runs are left.
        public var stoppedBecause: String?
        /// Whether another process was pushing, so this one did not.
        public var busy = false
    }

    /// Pushes the outbox until it is empty or the server cannot take more now.
    public func push() async throws -> Report {
        var report = Report()
        // Two processes pushing the same runs would be harmless (the server keeps one record
        // per run) but wasted work: the second skips.
        let lock = try lockPath.map { try FileLock(path: $0) }
        if let lock, !lock.tryAcquire() {
            report.busy = true
            report.waiting = try store.runCounts(account: account)[.pending] ?? 0
            return report
        }
        defer { lock?.release() }
        outbox: while true {
            let batch = try nextBatch()
            guard !batch.isEmpty else { break }
            switch try await post(batch, report: &report) {
            case .done: continue
            case .stop: break outbox
            case .refused:
                // The server refused the post as a whole (a bad record, too large): one run at
                // a time, so that only the run at fault is set aside.
                for run in batch where try await post([run], report: &report) == .stop { break outbox }
            }
        }
        report.waiting = try store.runCounts(account: account)[.pending] ?? 0
        return report
    }

    private enum PostResult { case done, refused, stop }

    /// Posts `runs` (all of one project) and records what the server said; `.refused` when it
    /// refused the post as a whole (400/413), `.stop` when pushing must stop for now.
    private func post(_ runs: [LocalRun], report: inout Report) async throws -> PostResult {
        guard let first = runs.first else { return .done }
        do {
            let receipts = try await client.send(
                "POST", "/api/v1/projects/\(first.projectID.pathEscaped)/runs", body: Schemas.RunsRequest(runs: runs.map(Self.record)),
                timeout: timeout, as: Schemas.RunReceipts.self)
            let posted = Set(runs.map(\.id))
            guard receipts.runs.count == runs.count, receipts.runs.allSatisfy({ posted.contains($0.id) }) else {
                report.stoppedBecause = "the server's receipts do not match the \(runs.count) runs posted; is it another version?"
                return .stop
            }
            try store.markSynced(receipts.runs.map { ($0.id, $0.jobID) })
            report.synced += receipts.runs.count
            return .done
        } catch ClientError.http(let status, let code, let message) where (status, code) == (403, "forbidden") || (status, code) == (404, "not_found") {
            // The API itself says the account cannot write runs in that project (any more): none
            // of its runs will go. (A 403 or 404 without the API's own code is a proxy's, and
            // passes like any other failure.)
            let reason = """
                the server refused runs in project \(first.projectName): \(message) (\(code), HTTP \(status)); \
                once you have the runner role there again, `agentos desktop runs --retry` queues them again
                """
            let refused = try store.pendingRuns(account: account, limit: Int.max).filter { $0.projectID == first.projectID }.map(\.id)
            try store.markRejected(refused, reason: reason)
            report.rejected += refused.count
            return .done
        } catch ClientError.http(let status, _, let message) where status == 400 || status == 413 {
            guard runs.count == 1 else { return .refused }
            try store.markRejected([first.id], reason: "the server cannot take this record: \(message) (HTTP \(status))")
            report.rejected += 1
            return .done
        } catch ClientError.http(let status, let code, let message) where status == 401 {
            let reason = "the server no longer accepts this login (\(message), \(code)): run `agentos login` again"
            report.stoppedBecause = reason
            try store.noteFailedPush(runs.map(\.id), reason: reason)
            return .stop
        } catch let error as ClientError {
            // Offline, rate limited, or the server failing: the runs wait for the next push.
            report.stoppedBecause = "\(error)"
            try store.noteFailedPush(runs.map(\.id), reason: "\(error)")
            return .stop
        }
    }

    /// The oldest pending runs of one project, in order, that fit one post.
    func nextBatch() throws -> [LocalRun] {
        let pending = try store.pendingRuns(account: account, limit: Self.maxRunsPerPost)
        guard let first = pending.first else { return [] }
        var batch: [LocalRun] = []
        var bytes = 0
        for run in pending {
            // In order: a run of another project waits for the next post.
            guard run.projectID == first.projectID else { break }
            let size = Self.approximateSize(of: run)
            if !batch.isEmpty, bytes + size > Self.maxPostBytes { break }
            batch.append(run)
            bytes += size
        }
        return batch
    }

    static func approximateSize(of run: LocalRun) -> Int {
        min(maxRecordBytes, run.stdout.utf8.count + run.stderr.utf8.count + run.inputs.utf8.count + (run.result?.utf8.count ?? 0)) + 1024
    }

    /// The record posted for `run`, cut to what the API takes, with `output_truncated` set
    /// when anything was cut. Inputs or a result too large to post are replaced by a note of
    /// their size; the output is shortened from the end, each stream to its share.
    static func record(_ run: LocalRun) -> Schemas.RunRecord {
        var truncated = run.outputTruncated
        var inputs = (try? JSONValue.parse(Data(run.inputs.utf8)))?.objectValue ?? [:]
        var result = run.result.flatMap { try? JSONValue.parse(Data($0.utf8)) }
        var error = run.error
        if run.inputs.utf8.count > maxDataBytes / 2 {
            inputs = ["_truncated": .string("inputs of \(run.inputs.utf8.count) bytes were too large to sync")]
            truncated = true
        }
        if let text = run.result, text.utf8.count + min(run.inputs.utf8.count, maxDataBytes / 2) > maxDataBytes - 1024 {
            result = nil
            // The note first: a long error is cut from its end below.
            error = ["the result (\(text.utf8.count) bytes) was too large to sync; it is kept on the desktop", error]
                .compactMap { $0 }.joined(separator: "; ")
            truncated = true
        }
        let dataBytes = JSONValue.object(inputs).encoded().count + (result?.encoded().count ?? 0)
        // JSON escapes can make text up to six times longer: budget by the escaped size.
        let outputBudget = max(0, maxRecordBytes - dataBytes - 8192)
        var stdout = run.stdout
        var stderr = run.stderr
        if escapedSize(stdout) + escapedSize(stderr) > outputBudget || stdout.utf8.count > maxStreamBytes || stderr.utf8.count > maxStreamBytes {
            let share = outputBudget / 2
            stdout = cut(stdout, toEscaped: share, maxBytes: maxStreamBytes)
            stderr = cut(stderr, toEscaped: outputBudget - escapedSize(stdout), maxBytes: maxStreamBytes)
            truncated = true
        }
        if let text = error, text.utf8.count > maxErrorBytes {
            error = cut(text, toEscaped: Int.max, maxBytes: maxErrorBytes)
            truncated = true
        }
        return Schemas.RunRecord(
            id: run.id, skill: run.skill, version: run.version, inputs: inputs, status: run.jobStatus, result: result,
            stdout: stdout, stderr: stderr, exitCode: run.exitCode, error: error, startedAt: run.startedAt,
            finishedAt: run.finishedAt, device: run.device, outputTruncated: truncated,
            dirs: ((try? JSONValue.parse(Data(run.folders.utf8)))?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
    }

    /// The bytes `text` takes as a JSON string's contents.
    static func escapedSize(_ text: String) -> Int {
        var size = 0
        for byte in text.utf8 {
            switch byte {
            case 0x22, 0x5C, 0x08, 0x0C, 0x0A, 0x0D, 0x09: size += 2
            case ..<0x20: size += 6
            default: size += 1
            }
        }
        return size
    }

    /// The start of `text` that takes at most `budget` escaped bytes and `maxBytes` bytes,
    /// cut at a character boundary.
    static func cut(_ text: String, toEscaped budget: Int, maxBytes: Int) -> String {
        var kept = 0
        var escaped = 0
        var end = text.startIndex
        for index in text.unicodeScalars.indices {
            let scalar = text.unicodeScalars[index]
            let bytes = UTF8.width(scalar)
            let cost = scalar.value < 0x20 || scalar == "\"" || scalar == "\\" ? (scalar.value < 0x20 && !"\n\r\t\u{8}\u{C}".unicodeScalars.contains(scalar) ? 6 : 2) : bytes
            guard kept + bytes <= maxBytes, escaped + cost <= budget else { break }
            kept += bytes
            escaped += cost
            end = text.unicodeScalars.index(after: index)
        }
        return String(text.unicodeScalars[..<end])
    }
}
