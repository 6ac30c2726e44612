import AgentOSWire
import Foundation
import Testing
@testable import AgentOSWorker

/// The batching and back-pressure rules of a run's live output, on the pure batcher.
@Suite struct OutputBatcherTests {
    let t0 = ContinuousClock.now
    let run = RunningJob(jobID: "j", attempt: 2)

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { t0 + .milliseconds(milliseconds) }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Every chunk due at `now`.
    func drain(_ batcher: inout OutputBatcher, at now: ContinuousClock.Instant) -> [JobOutputChunk] {
        var chunks: [JobOutputChunk] = []
        while let chunk = batcher.nextChunk(at: now) { chunks.append(chunk) }
        return chunks
    }

    @Test func smallWritesWaitForTheFlushDelayAndLeaveTogether() {
        var batcher = OutputBatcher(run: run, cap: 1 << 20)
        let wakes = [
            batcher.append(.stdout, bytes("one\n"), at: at(0)), batcher.append(.stderr, bytes("warn\n"), at: at(5)),
            batcher.append(.stdout, bytes("two\n"), at: at(10)),
        ]
        #expect(wakes == [true, false, false], "only the first bytes wake the owner")
        #expect(batcher.dueAt == at(20))
        let early = batcher.nextChunk(at: at(19))
        #expect(early == nil)
        let chunk = batcher.nextChunk(at: at(20))
        #expect(chunk == JobOutputChunk(jobID: "j", attempt: 2, stdoutOffset: 0, stdout: "one\ntwo\n", stderrOffset: 0, stderr: "warn\n"))
        let none = batcher.nextChunk(at: at(20))
        #expect(none == nil)
        #expect(batcher.dueAt == nil)
        // The next batch continues at the offsets.
        let woke = batcher.append(.stdout, bytes("three\n"), at: at(30))
        #expect(woke)
        let next = batcher.nextChunk(at: at(50))
        #expect(next?.stdoutOffset == 8)
    }

    @Test func aFullBatchLeavesAtOnceInChunksUnderTheBodyLimit() throws {
        var batcher = OutputBatcher(run: run, cap: 1 << 20)
        // Control characters: the worst case for JSON escaping (six bytes each).
        let flood = [UInt8](repeating: 0x01, count: 100 << 10)
        let first = batcher.append(.stdout, flood[..<(16 << 10)], at: at(0))
        let crossing = batcher.append(.stdout, flood[(16 << 10)...], at: at(1))
        #expect(first && crossing, "crossing 32 KiB wakes the owner again")
        #expect(batcher.dueAt == at(0), "due now")
        let full = drain(&batcher, at: at(1))
        #expect(full.count == 2, "full chunks go at once")
        #expect(batcher.dueAt == at(20), "the rest, under 32 KiB, waits for the flush delay")
        let chunks = full + drain(&batcher, at: at(20))
        #expect(chunks.count == 3)
        #expect(chunks.map(\.stdout.utf8.count).reduce(0, +) == 100 << 10)
        #expect(chunks.map(\.stdoutOffset) == [0, 40 << 10, 80 << 10])
        for chunk in chunks {
            #expect(BusMessage(.output, chunk).body.count <= Bus.maxOutputBodyBytes)
        }
    }

    @Test func bothStreamsShareAChunk() {
        var batcher = OutputBatcher(run: run, cap: 1 << 20)
        batcher.append(.stdout, [UInt8](repeating: 0x61, count: 64 << 10), at: at(0))
        batcher.append(.stderr, bytes("error!\n"), at: at(0))
        let first = batcher.nextChunk(at: at(0))
        #expect(first?.stderr == "error!\n", "stderr is not starved behind a flood of stdout")
        #expect(first?.stdout.utf8.count == 20 << 10)
    }

    @Test func aCharacterIsNeverCutInTwo() {
        var batcher = OutputBatcher(run: run, cap: 1 << 20)
        let euro = bytes("€")  // three bytes
        batcher.append(.stdout, bytes("price: ") + euro[..<2], at: at(0))
        let first = batcher.nextChunk(at: at(20))
        #expect(first?.stdout == "price: ")
        #expect(batcher.dueAt == nil, "the half character waits for the rest, not for a timer")
        let woke = batcher.append(.stdout, euro[2...] + bytes("5\n"), at: at(30))
        #expect(woke)
        let second = batcher.nextChunk(at: at(50))
        #expect(second?.stdout == "€5\n")
        #expect(second?.stdoutOffset == 7)
    }

    @Test func aChunkTheSocketRefusedLeavesWithTheNextOne() {
        var batcher = OutputBatcher(run: run, cap: 1 << 20)
        batcher.append(.stdout, bytes("a\n"), at: at(0))
        let refused = batcher.nextChunk(at: at(20))!
        batcher.notSent(refused, at: at(20))
        batcher.append(.stdout, bytes("b\n"), at: at(25))
        let coalesced = batcher.nextChunk(at: at(40))
        #expect(coalesced?.stdout == "a\nb\n")
        #expect(coalesced?.stdoutOffset == 0)
    }

    @Test func aRefusedChunkIsRetriedAfterTheFlushDelayNotAtOnce() {
        var batcher = OutputBatcher(run: run, cap: 1 << 20)
        batcher.append(.stdout, [UInt8](repeating: 0x61, count: 40 << 10), at: at(0))
        let refused = batcher.nextChunk(at: at(0))!
        batcher.notSent(refused, at: at(5))
        // A full batch is due at once, but not right after the socket refused it: no spinning.
        #expect(batcher.dueAt == at(25))
        let tooSoon = batcher.nextChunk(at: at(10))
        #expect(tooSoon == nil)
        let retried = batcher.nextChunk(at: at(25))
        #expect(retried?.stdoutOffset == 0 && retried?.stdout.utf8.count == 40 << 10)
    }

    @Test func tooMuchUnsentGivesTheStreamUpInsteadOfGrowing() {
        var settings = OutputBatcher.Settings()
        settings.maxPendingBytes = 1000
        var batcher = OutputBatcher(run: run, cap: 1 << 20, settings: settings)
        batcher.append(.stdout, [UInt8](repeating: 0x61, count: 800), at: at(0))
        batcher.append(.stderr, bytes("e"), at: at(0))
        batcher.append(.stdout, [UInt8](repeating: 0x62, count: 300), at: at(1))
        #expect(batcher.hasGivenUp(.stdout))
        #expect(!batcher.hasGivenUp(.stderr))
        #expect(batcher.pendingBytes == 1, "the stream's bytes were dropped")
        batcher.append(.stdout, bytes("later"), at: at(2))
        let onlyStderr = batcher.nextChunk(at: at(30))
        #expect(onlyStderr == JobOutputChunk(jobID: "j", attempt: 2, stdoutOffset: 0, stdout: "", stderrOffset: 0, stderr: "e"))
        // A refused chunk that would not fit back is given up too.
        batcher.append(.stderr, [UInt8](repeating: 0x63, count: 900), at: at(40))
        let refused = batcher.nextChunk(at: at(60))!
        batcher.append(.stderr, [UInt8](repeating: 0x64, count: 200), at: at(61))
        batcher.notSent(refused, at: at(61))
        #expect(batcher.hasGivenUp(.stderr))
        #expect(batcher.pendingBytes == 0)
    }

    @Test func neverMoreThanTheCapOfAStreamInAll() {
        var batcher = OutputBatcher(run: run, cap: 10)
        // Invalid bytes become three-byte replacement characters: more text than bytes.
        batcher.append(.stdout, [0xFF, 0xFE, 0x61, 0x62, 0xFF, 0x63, 0x64], at: at(0))
        var total = drain(&batcher, at: at(20)).map(\.stdout.utf8.count).reduce(0, +)
        batcher.append(.stdout, bytes("more"), at: at(30))
        total += drain(&batcher, at: at(60)).map(\.stdout.utf8.count).reduce(0, +)
        #expect(total <= 10)
        #expect(batcher.hasGivenUp(.stdout))
    }
}
