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

    /// One stream of a run. Empty, it costs no allocation: a run is begun for every
    /// assignment, on the bus's hot path, whether its worker streams or not.
    private struct Stream {
        var bytes: [UInt8] = []
        /// UTF-8 bytes of the stream the worker has sent that were kept: where its next chunk must start.
        var received = 0
        /// A stream that stopped growing (cap, memory bound or a gap) takes nothing more.
        var stopped = false
    }

    private struct Run {
        let attempt: Int
        let cap: Int
        var stdout = Stream()
        var stderr = Stream()
        var truncated = false

        var bytes: Int { stdout.bytes.count + stderr.bytes.count }
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
                state.totalBytes -= old.bytes
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
            let room = maxTotalBytes - state.totalBytes
            let addedOut = Self.append(chunk.stdout, at: chunk.stdoutOffset, size: sizes.stdout, to: &run.stdout, cap: run.cap, room: room)
            let addedErr = Self.append(
                chunk.stderr, at: chunk.stderrOffset, size: sizes.stderr, to: &run.stderr, cap: run.cap, room: room - addedOut)
            if run.stdout.stopped || run.stderr.stopped { run.truncated = true }
            state.totalBytes += addedOut + addedErr
            state.runs[chunk.jobID] = run
            return addedOut + addedErr > 0
        }
    }

    /// The run of `jobID` ended (its outcome is stored) or no longer counts: its output goes.
    public func end(jobID: String, attempt: Int) {
        state.withLock { state in
            guard let run = state.runs[jobID], run.attempt == attempt else { return }
            state.totalBytes -= run.bytes
            state.runs[jobID] = nil
        }
    }

    /// What the current run of `jobID` has written so far, if it has a live record. The bytes
    /// are copied here, on the reader's thread: a snapshot sharing the streams' storage would
    /// make the bus thread's next append copy the whole stream instead.
    public func snapshot(jobID: String) -> Snapshot? {
        state.withLock { state in
            state.runs[jobID].map {
                Snapshot(attempt: $0.attempt, stdout: Self.copy($0.stdout.bytes), stderr: Self.copy($0.stderr.bytes), truncated: $0.truncated)
            }
        }
    }

    /// `bytes` in storage of their own.
    private static func copy(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBufferPointer { Array($0) }
    }

    /// Bytes held for all runs now.
    public var totalBytes: Int { state.withLock { $0.totalBytes } }

    /// Appends `text` to `stream` when it starts where the stream stands (else the stream
    /// stops), within the run's `cap` and the `room` left in all; returns the bytes added.
    private static func append(_ text: String, at offset: Int, size: Int, to stream: inout Stream, cap: Int, room: Int) -> Int {
        guard !text.isEmpty, !stream.stopped else { return 0 }
        guard offset == stream.received else {
            stream.stopped = true
            return 0
        }
        var bytes = Array(text.utf8)
        let fits = min(cap - stream.bytes.count, room)
        if bytes.count > fits {
            bytes = wholeCharacters(bytes, atMost: max(0, fits))
            stream.stopped = true
        }
        stream.received += size
        stream.bytes += bytes
        return bytes.count
    }

    /// The longest prefix of `bytes` (valid UTF-8) of at most `limit` bytes that ends between characters.
    static func wholeCharacters(_ bytes: [UInt8], atMost limit: Int) -> [UInt8] {
        var end = min(bytes.count, limit)
        while end > 0, end < bytes.count, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return Array(bytes[..<end])
    }
}
