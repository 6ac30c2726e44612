import AgentOSServer
import AgentOSStore
import AgentOSWire
import Foundation
import Testing

/// `OUTPUT`: which chunks the server keeps, and what `GET /jobs/{id}` and `jobs.output` then show.
@Suite struct LiveOutputTests {
    private func chunk(_ run: JobAssignment, stdout: String = "", at stdoutOffset: Int = 0, stderr: String = "", at stderrOffset: Int = 0) -> JobOutputChunk {
        JobOutputChunk(jobID: run.jobID, attempt: run.attempt, stdoutOffset: stdoutOffset, stdout: stdout, stderrOffset: stderrOffset, stderr: stderr)
    }

    private func text(_ h: DispatcherHarness, _ jobID: String) -> (String, String)? {
        h.watch.live.snapshot(jobID: jobID).map { (String(decoding: $0.stdout, as: UTF8.self), String(decoding: $0.stderr, as: UTF8.self)) }
    }

    @Test func outputOfTheRunningAttemptIsKeptInOrderAndTheResultReplacesIt() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let run = try h.connect("a").jobs(to: "a")[0]
        _ = try h.send("a", .output, chunk(run, stdout: "one\n", stderr: "warn\n"))
        _ = try h.send("a", .output, chunk(run, stdout: "two\n", at: 4))
        #expect(text(h, job.id)! == ("one\ntwo\n", "warn\n"))
        #expect(try h.store.job(id: job.id)?.stdout == "", "live output is not written to the store")
        _ = try h.send("a", .result, JobOutcome(jobID: job.id, attempt: run.attempt, status: .succeeded, stdout: "one\ntwo\nthree\n"))
        #expect(h.watch.live.snapshot(jobID: job.id) == nil, "the stored result replaces it")
        #expect(h.watch.live.totalBytes == 0)
        #expect(try h.store.job(id: job.id)?.stdout == "one\ntwo\nthree\n")
    }

    @Test func outputFromAnotherAttemptAnotherWorkerOrAnUnknownJobIsIgnored() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let run = try h.connect("a").jobs(to: "a")[0]
        try h.connect("b")
        var stale = chunk(run, stdout: "old attempt\n")
        stale.attempt = run.attempt + 1
        #expect(try h.send("a", .output, stale).isEmpty)
        #expect(try h.send("b", .output, chunk(run, stdout: "not b's job\n")).isEmpty)
        var unknown = chunk(run, stdout: "who?\n")
        unknown.jobID = "no-such-job"
        #expect(try h.send("a", .output, unknown).isEmpty)
        #expect(text(h, job.id)! == ("", ""))
        #expect(h.watch.live.snapshot(jobID: "no-such-job") == nil)
        // From a connection that never said hello: the usual answer, and nothing kept.
        #expect(try h.send("stranger", .output, chunk(run, stdout: "x")).commands(to: "stranger") == [.reject])
        #expect(text(h, job.id)! == ("", ""))
    }

    @Test func aGapOrARepeatStopsTheStreamSoWhatIsShownStaysAPrefix() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let run = try h.connect("a").jobs(to: "a")[0]
        _ = try h.send("a", .output, chunk(run, stdout: "ab", stderr: "e1"))
        _ = try h.send("a", .output, chunk(run, stdout: "ab", at: 0))  // a repeat
        _ = try h.send("a", .output, chunk(run, stdout: "cd", at: 2, stderr: "e3", at: 9))  // stderr skipped some
        _ = try h.send("a", .output, chunk(run, stdout: "ef", at: 4, stderr: "e4", at: 11))
        #expect(text(h, job.id)! == ("ab", "e1"), "stdout stopped at the repeat, stderr at the gap")
        #expect(h.watch.live.snapshot(jobID: job.id)?.truncated == true)
    }

    @Test func outputPastTheJobsCapIsCutAtACharacter() throws {
        let h = try DispatcherHarness()
        let job = try h.store.submit(Job(
            projectID: h.project.id, code: "pass", inputs: [:], target: .cloud, limits: JobLimits(maxOutputBytes: 5),
            submittedBy: h.alice.id, createdAt: h.now)).job
        h.dispatcher.enqueue([QueuedJob(job)])
        let run = try h.connect("a").jobs(to: "a")[0]
        _ = try h.send("a", .output, chunk(run, stdout: "abcé€"))  // 1+1+1+2+3 bytes
        _ = try h.send("a", .output, chunk(run, stdout: "more", at: 10))
        #expect(text(h, job.id)!.0 == "abcé")
        #expect(h.watch.live.snapshot(jobID: job.id)?.truncated == true)
    }

    @Test func allRunsTogetherStayWithinTheMemoryBound() throws {
        let h = try DispatcherHarness()  // its store holds 1 MiB of live output
        let first = try h.submit()
        let second = try h.submit()
        let runs = try h.connect("a", slots: 2).jobs(to: "a")
        let big = String(repeating: "x", count: 700 << 10)
        for run in runs { _ = try h.send("a", .output, chunk(run, stdout: big)) }
        #expect(h.watch.live.totalBytes <= 1 << 20)
        #expect(text(h, first.id)!.0.count + text(h, second.id)!.0.count == 1 << 20)
        // A run that ends frees its share.
        _ = try h.succeed("a", runs[0])
        #expect(h.watch.live.totalBytes == (1 << 20) - (700 << 10))
    }

    @Test func nulsAreStoredAsReplacementCharactersAndTheWorkersOffsetsStillLineUp() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let run = try h.connect("a").jobs(to: "a")[0]
        _ = try h.send("a", .output, chunk(run, stdout: "a\u{0}b"))
        _ = try h.send("a", .output, chunk(run, stdout: "c", at: 3))
        #expect(text(h, job.id)!.0 == "a\u{FFFD}bc")
    }

    @Test func aRequeuedJobsOutputStartsOverWithTheNextAttempt() throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let first = try h.connect("a").jobs(to: "a")[0]
        _ = try h.send("a", .output, chunk(first, stdout: "attempt one\n"))
        _ = try h.send("a", .bye, EmptyBody())
        #expect(h.watch.live.snapshot(jobID: job.id) == nil)
        let second = try h.connect("b").jobs(to: "b")[0]
        _ = try h.send("b", .output, chunk(second, stdout: "attempt two\n"))
        #expect(h.watch.live.snapshot(jobID: job.id)?.attempt == 2)
        #expect(text(h, job.id)!.0 == "attempt two\n")
    }

    @Test func outputAndStartingWakeThoseWaitingForAnyChange() async throws {
        let h = try DispatcherHarness()
        let job = try h.submit()
        let ticket = h.watch.register(job.id, anyChange: true)
        let run = try h.connect("a").jobs(to: "a")[0]
        // Woken by the start: this wait returns at once, long before its timeout.
        let clock = ContinuousClock()
        let waited = await clock.measure { await h.watch.wait(ticket, timeout: .seconds(60)) }
        #expect(waited < .seconds(30))
        let second = h.watch.register(job.id, anyChange: true)
        _ = try h.send("a", .output, chunk(run, stdout: "hi\n"))
        let waitedAgain = await clock.measure { await h.watch.wait(second, timeout: .seconds(60)) }
        #expect(waitedAgain < .seconds(30))
    }
}
