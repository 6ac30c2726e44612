import AgentOSSandbox
import AgentOSWire
import Foundation
import Synchronization

/// One run's live output on its way into `OUTPUT` messages (docs/PROTOCOL.md §3.13), as a
/// pure value: bytes go in as the job writes them, chunks come out when they are due (a
/// batch has waited `flushDelay`, or holds `flushBytes`), and a chunk the socket would not
/// take goes back in front, to leave with the next one. It never holds more than
/// `maxPendingBytes` of a stream: past that (the server is not keeping up) it gives the
/// stream's live output up, and the `RESULT` alone carries it. It never sends more than the
/// job's cap of a stream in all, and cuts text only between whole UTF-8 characters, so that
/// every stream the server shows is a prefix of the job's output.
public struct OutputBatcher: Sendable {
    /// When to send and how much to hold.
    public struct Settings: Sendable {
        /// How long written output may wait to be batched with more.
        public var flushDelay: Duration = .milliseconds(20)
        /// Pending bytes (both streams) that are sent at once, without waiting.
        public var flushBytes = 32 << 10
        /// Most bytes of one stream held while they cannot be sent; past it the stream's live output is given up.
        public var maxPendingBytes = 256 << 10
        /// Most bytes of both streams in one chunk: escaped as JSON (at worst six bytes each,
        /// `\u0001`), a chunk's body stays under `Bus.maxOutputBodyBytes`.
        public var maxChunkBytes = 40 << 10

        /// The defaults: 20 ms, 32 KiB, 256 KiB, 40 KiB.
        public init() {}
    }

    /// The run this output belongs to.
    public let run: RunningJob
    private let settings: Settings
    /// Most text bytes of a stream sent in all: the job's `max_output_bytes`.
    private let cap: Int
    private var pending: [[UInt8]] = [[], []]
    /// Text bytes of each stream taken into chunks so far: the next chunk's offsets.
    private var sent = [0, 0]
    private var givenUp = [false, false]
    /// When the oldest pending byte arrived.
    private var pendingSince: ContinuousClock.Instant?
    /// After a chunk could not be sent, no retry before this: a full socket or a lost
    /// connection must not make the owner spin.
    private var notBefore: ContinuousClock.Instant?

    /// An empty batcher for `run`, whose job may write `cap` bytes to each stream.
    public init(run: RunningJob, cap: Int, settings: Settings = Settings()) {
        self.run = run
        self.cap = max(0, cap)
        self.settings = settings
    }

    /// Bytes of both streams waiting.
    public var pendingBytes: Int { pending[0].count + pending[1].count }
    /// Whether a stream's live output was given up.
    public func hasGivenUp(_ stream: JobOutputStream) -> Bool { givenUp[Self.index(stream)] }
    /// When the pending output is due to leave (nil: nothing pending).
    public var dueAt: ContinuousClock.Instant? {
        guard let pendingSince else { return nil }
        let due = pendingBytes >= settings.flushBytes ? pendingSince : pendingSince + settings.flushDelay
        return notBefore.map { max($0, due) } ?? due
    }

    /// The job wrote `bytes` to `stream`; returns whether the owner should look at this
    /// batcher now (it had nothing pending, or has just crossed `flushBytes`).
    @discardableResult
    public mutating func append(_ stream: JobOutputStream, _ bytes: some Collection<UInt8>, at now: ContinuousClock.Instant) -> Bool {
        let index = Self.index(stream)
        guard !givenUp[index], !bytes.isEmpty else { return false }
        let before = pendingBytes
        guard pending[index].count + bytes.count <= settings.maxPendingBytes else {
            giveUp(index)
            return false
        }
        pending[index].append(contentsOf: bytes)
        let wasIdle = pendingSince == nil
        if wasIdle { pendingSince = now }
        return wasIdle || (before < settings.flushBytes && pendingBytes >= settings.flushBytes)
    }

    /// The next chunk to send, if one is due at `now`: at most `maxChunkBytes` of whole
    /// characters, each stream continuing at its offset. Call again while it returns one.
    public mutating func nextChunk(at now: ContinuousClock.Instant) -> JobOutputChunk? {
        guard let due = dueAt, now >= due else { return nil }
        var texts = ["", ""]
        var room = settings.maxChunkBytes
        for index in 0..<2 where !pending[index].isEmpty && room > 0 {
            // Both streams waiting share a chunk: stdout may not crowd stderr out.
            let share = index == 0 && !pending[1].isEmpty ? room / 2 : room
            let end = Self.characterBoundary(in: pending[index], atMost: share)
            guard end > 0 else { continue }
            var text = String(decoding: pending[index][..<end], as: UTF8.self)
            pending[index].removeFirst(end)
            room -= end
            if sent[index] + text.utf8.count > cap {
                // Past the cap (replacement characters can make text longer than its bytes):
                // what fits goes, and the rest is the RESULT's.
                text = Self.prefix(of: text, utf8Bytes: cap - sent[index])
                giveUp(index)
            }
            texts[index] = text
        }
        if pending.allSatisfy({ Self.characterBoundary(in: $0, atMost: settings.maxChunkBytes) == 0 }) {
            // Nothing left, or only the start of a character still being written: the next
            // append makes it due again.
            pendingSince = nil
        }
        guard texts != ["", ""] else { return nil }
        let chunk = JobOutputChunk(
            jobID: run.jobID, attempt: run.attempt, stdoutOffset: sent[0], stdout: texts[0], stderrOffset: sent[1], stderr: texts[1])
        sent[0] += texts[0].utf8.count
        sent[1] += texts[1].utf8.count
        return chunk
    }

    /// `chunk`, the last one `nextChunk` gave, could not be sent: its text goes back in front
    /// of what is pending, to leave with the next chunk, one flush delay from now at the
    /// earliest (or, when that would hold too much, its stream's live output is given up).
    public mutating func notSent(_ chunk: JobOutputChunk, at now: ContinuousClock.Instant) {
        notBefore = now + settings.flushDelay
        for (index, text, offset) in [(0, chunk.stdout, chunk.stdoutOffset), (1, chunk.stderr, chunk.stderrOffset)] where !text.isEmpty {
            guard !givenUp[index], sent[index] == offset + text.utf8.count else { continue }
            sent[index] = offset
            if pending[index].count + text.utf8.count > settings.maxPendingBytes {
                giveUp(index)
            } else {
                pending[index].insert(contentsOf: text.utf8, at: 0)
            }
        }
        if pendingBytes > 0, pendingSince == nil { pendingSince = now }
    }

    private mutating func giveUp(_ index: Int) {
        givenUp[index] = true
        pending[index] = []
        if pendingBytes == 0 { pendingSince = nil }
    }

    private static func index(_ stream: JobOutputStream) -> Int { stream == .stdout ? 0 : 1 }

    /// The longest prefix of `bytes`, at most `limit` long, that does not end inside a UTF-8
    /// sequence still being written (a sequence that can no longer become valid is cut anyway).
    static func characterBoundary(in bytes: [UInt8], atMost limit: Int) -> Int {
        var end = min(bytes.count, limit)
        // Look back over at most three continuation bytes for the sequence's lead byte.
        var index = end - 1
        while index >= 0, index >= end - 4 {
            let byte = bytes[index]
            if byte & 0xC0 == 0x80 {
                index -= 1
                continue
            }
            if byte >= 0xC0 {
                let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                if index + length > end { end = index }
            }
            break
        }
        return end
    }

    /// The longest prefix of `text` of at most `bytes` UTF-8 bytes, cut between characters.
    static func prefix(of text: String, utf8Bytes bytes: Int) -> String {
        var used = 0
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let size = String(scalar).utf8.count
            guard used + size <= bytes else { break }
            used += size
            result.append(scalar)
        }
        return String(result)
    }
}

/// An `OutputBatcher` shared between a job's thread, which appends what the job writes, and
/// the worker's socket thread, which takes chunks and puts back what it could not send.
final class SharedOutputBatcher: Sendable {
    private let batcher: Mutex<OutputBatcher>

    init(_ batcher: OutputBatcher) {
        self.batcher = Mutex(batcher)
    }

    /// See `OutputBatcher.append`.
    func append(_ stream: JobOutputStream, _ bytes: ArraySlice<UInt8>) -> Bool {
        batcher.withLock { $0.append(stream, bytes, at: .now) }
    }

    /// See `OutputBatcher.nextChunk`.
    func nextChunk(at now: ContinuousClock.Instant) -> JobOutputChunk? {
        batcher.withLock { $0.nextChunk(at: now) }
    }

    /// See `OutputBatcher.notSent`.
    func notSent(_ chunk: JobOutputChunk, at now: ContinuousClock.Instant) {
        batcher.withLock { $0.notSent(chunk, at: now) }
    }

    /// See `OutputBatcher.dueAt`.
    var dueAt: ContinuousClock.Instant? { batcher.withLock { $0.dueAt } }
}
