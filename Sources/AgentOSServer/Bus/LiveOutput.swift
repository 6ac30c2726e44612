import AgentOSWire
import Foundation
import Synchronization

/// The output of running jobs so far, as their workers stream it in `OUTPUT` (PROTOCOL
/// §3.13), kept in memory: the bus thread appends, API requests read. A run's output is
/// bounded by its job's cap per stream, and all runs' together by `maxTotalBytes`; past
/// either, that stream's live output stops growing (the `RESULT` brings the whole). Nothing
/// here is durable: after a restart a running job shows no output until its `RESULT`, which
/// is stored as always.
public final class LiveOutput: Sendable {
    /// What one run has written so far.
    public struct Snapshot: Sendable, Equatable {
        /// The attempt that wrote it.
        public let attempt: Int
        /// Text of stdout so far, UTF-8 (NULs stored as U+FFFD, as in a stored job).
        public let stdout: [UInt8]
        /// As `stdout`.
        public let stderr: [UInt8]
        /// Whether some of it was cut (a cap or the memory bound).
        public let truncated: Bool
    }

    private struct Run {
        let attempt: Int
        let cap: Int
        var streams: [[UInt8]] = [[], []]
        /// UTF-8 bytes of each stream the worker has sent that were kept: where its next chunk must start.
        var received = [0, 0]
        /// A stream that stopped growing (cap, memory bound or a gap) takes nothing more.
        var stopped = [false, false]
        var truncated = false
    }

    private struct State {
        var runs: [String: Run] = [:]
        var totalBytes = 0
    }

    /// Most bytes of live output held for all runs together.
    public let maxTotalBytes: Int
    private let state = Mutex(State())

    /// An empty store holding at most `maxTotalBytes` (default 256 MiB).
    public init(maxTotalBytes: Int = 256 << 20) {
        self.maxTotalBytes = maxTotalBytes
    }

    /// A run started (or resumed after a reconnect): its output starts empty, each stream
    /// capped at `cap` bytes. Replaces what an earlier attempt left.
    public func begin(jobID: String, attempt: Int, cap: Int) {
        state.withLock { state in
            if let old = state.runs[jobID] {
                guard old.attempt != attempt else { return }
                state.totalBytes -= old.streams[0].count + old.streams[1].count
            }
            state.runs[jobID] = Run(attempt: attempt, cap: cap)
        }
    }

    /// Appends `chunk` (its NULs already replaced, see `Dispatcher`) when it belongs to the
    /// run begun for its job and each stream's text continues exactly where the stream
    /// stands; a stream whose text does not (a lost or repeated chunk) is left as it is and
    /// takes nothing more. Returns whether anything was added.
    public func append(_ chunk: JobOutputChunk, received sizes: (stdout: Int, stderr: Int)) -> Bool {
        state.withLock { state in
            guard var run = state.runs[chunk.jobID], run.attempt == chunk.attempt else { return false }
            var added = false
            let parts = [(chunk.stdoutOffset, sizes.stdout, chunk.stdout), (chunk.stderrOffset, sizes.stderr, chunk.stderr)]
            for (index, (offset, size, text)) in parts.enumerated() where !text.isEmpty && !run.stopped[index] {
                guard offset == run.received[index] else {
                    run.stopped[index] = true
                    run.truncated = true
                    continue
                }
                var bytes = Array(text.utf8)
                let room = min(run.cap - run.streams[index].count, maxTotalBytes - state.totalBytes)
                if bytes.count > room {
                    bytes = Self.wholeCharacters(bytes, atMost: max(0, room))
                    run.stopped[index] = true
                    run.truncated = true
                }
                run.received[index] += size
                run.streams[index] += bytes
                state.totalBytes += bytes.count
                added = added || !bytes.isEmpty
            }
            state.runs[chunk.jobID] = run
            return added
        }
    }

    /// The run of `jobID` ended (its outcome is stored) or no longer counts: its output goes.
    public func end(jobID: String, attempt: Int) {
        state.withLock { state in
            guard let run = state.runs[jobID], run.attempt == attempt else { return }
            state.totalBytes -= run.streams[0].count + run.streams[1].count
            state.runs[jobID] = nil
        }
    }

    /// What the current run of `jobID` has written so far, if it has a live record.
    public func snapshot(jobID: String) -> Snapshot? {
        state.withLock { state in
            state.runs[jobID].map { Snapshot(attempt: $0.attempt, stdout: $0.streams[0], stderr: $0.streams[1], truncated: $0.truncated) }
        }
    }

    /// Bytes held for all runs now.
    public var totalBytes: Int { state.withLock { $0.totalBytes } }

    /// The longest prefix of `bytes` (valid UTF-8) of at most `limit` bytes that ends between characters.
    static func wholeCharacters(_ bytes: [UInt8], atMost limit: Int) -> [UInt8] {
        var end = min(bytes.count, limit)
        while end > 0, end < bytes.count, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return Array(bytes[..<end])
    }
}
