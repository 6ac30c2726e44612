import AgentOSAPI
import AgentOSWire
import Foundation
import Testing
@testable import AgentOSGateway

/// The SSE stream's cursor: the events each page of `jobs.output` brings, their ids, and
/// resuming from an id without a repeat or a gap.
@Suite struct JobEventCursorTests {
    func page(
        _ status: JobStatus, attempts: Int = 1, stdout: String = "", at stdoutOffset: Int = 0, stderr: String = "", at stderrOffset: Int = 0
    ) -> Schemas.JobOutputPage {
        let job = Schemas.Job(
            id: "j", project: "p", status: status, origin: .server, entrypoint: "main", inputs: [:], target: .cloud, labels: [],
            limits: Schemas.Limits(timeoutSeconds: 60, maxOutputKB: 1024, memoryMB: nil, network: false), priority: 0,
            attempts: attempts, maxAttempts: 3, result: status == .succeeded ? 42 : .null, outputTruncated: false,
            submittedBy: "u", createdAt: Date(timeIntervalSince1970: 0))
        return Schemas.JobOutputPage(
            job: job, stdout: stdout, stderr: stderr, stdoutOffset: stdoutOffset, stderrOffset: stderrOffset,
            nextStdoutOffset: stdoutOffset + stdout.utf8.count, nextStderrOffset: stderrOffset + stderr.utf8.count)
    }

    func names(_ events: [(String, String, any Encodable & Sendable)]) -> [String] { events.map(\.0) }

    @Test func aJobsLifeIsStatusOutputAsItComesThenTheRestAndTheResult() throws {
        var cursor = JobEventCursor()
        var (events, ended) = cursor.advance(with: page(.queued, attempts: 0))
        #expect(names(events) == ["status"] && !ended)
        #expect(events[0].1 == "0.0.0.queued")
        (events, ended) = cursor.advance(with: page(.running, stdout: "one\n"))
        #expect(names(events) == ["status", "output"])
        #expect(events[1].1 == "1.4.0.running")
        let piece = try #require(events[1].2 as? Schemas.JobOutputEvent)
        #expect(piece.stdout == "one\n" && piece.stdoutOffset == 0 && piece.final == false)
        (events, ended) = cursor.advance(with: page(.running, stdout: "two\n", at: 4, stderr: "e\n"))
        #expect(names(events) == ["output"])
        #expect(cursor.id == "1.8.2.running")
        (events, ended) = cursor.advance(with: page(.succeeded, stdout: "three\n", at: 8, stderr: "", at: 2))
        #expect(names(events) == ["status", "output", "result"] && ended)
        let last = try #require(events[1].2 as? Schemas.JobOutputEvent)
        #expect(last.stdout == "three\n" && last.final == true)
        #expect(events[2].1 == "1.14.2.end")
    }

    @Test func aResumedStreamSendsOnlyWhatCameAfterItsLastEventID() throws {
        var cursor = try #require(JobEventCursor("1.4.0.running"))
        #expect(cursor.params(id: "j") == ["id": "j", "attempt": "1", "stdout_offset": "4", "stderr_offset": "0", "status": "running"])
        // The server's page starts where the cursor stands: no repeated status, the new text only.
        let (events, _) = cursor.advance(with: page(.running, stdout: "two\n", at: 4))
        #expect(names(events) == ["output"])
        #expect((events[0].2 as? Schemas.JobOutputEvent)?.stdout == "two\n")
        // Text that does not start at the cursor (it would repeat or skip) is not sent.
        let (stale, _) = cursor.advance(with: page(.running, stdout: "two\n", at: 4))
        #expect(stale.isEmpty)
    }

    @Test func anotherAttemptStartsItsOutputOver() {
        var cursor = JobEventCursor("1.40.3.running")!
        let (events, _) = cursor.advance(with: page(.running, attempts: 2, stdout: "again\n"))
        #expect(names(events) == ["status", "output"])
        #expect(cursor.id == "2.6.0.running")
    }

    @Test func idsThatAreNotOursStartTheStreamOver() {
        for text in ["", "x", "1.2.3", "1.2.3.nonsense", "-1.0.0.running", "1.a.0.queued"] {
            #expect(JobEventCursor(text) == nil, "\(text)")
        }
        #expect(JobEventCursor("3.0.0.end")?.ended == true)
        #expect(JobEventCursor("0.0.0.")?.status == nil)
    }
}
