import AgentOSWire
import Foundation
import Synchronization
import Testing
@testable import AgentOSWorker

/// Every rule of docs/PROTOCOL.md §3 and §8 on the worker's pure session: no socket, no
/// sandbox, no clock but the instants passed in.
@Suite struct WorkerSessionTests {
    let t0 = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .seconds(seconds) }

    func session(kind: WorkerKind = .cloud, drainTimeout: TimeInterval = 30) -> WorkerSession {
        var configuration = WorkerConfiguration(serverEndpoint: "tcp://server:5555", kind: kind, credential: WorkerCredential(workerToken: "t"))
        configuration.workerID = "w-1"
        configuration.name = "under-test"
        configuration.slots = 4
        configuration.drainTimeout = drainTimeout
        configuration.maxReconnectDelay = 30
        // Exact times in these tests; the jitter has a test of its own.
        configuration.helloJitter = 0
        return WorkerSession(configuration: configuration)
    }

    /// A session that has said hello and been welcomed (heartbeat 1 s, dead after 5).
    func welcomed(kind: WorkerKind = .cloud, drainTimeout: TimeInterval = 30) -> WorkerSession {
        var session = session(kind: kind, drainTimeout: drainTimeout)
        _ = session.start(at: at(0))
        _ = session.received(frames(.welcome, welcome()), at: at(0))
        return session
    }

    func welcome(heartbeatMS: Int = 1000, deadAfter: Int = 5) -> Welcome {
        Welcome(workerID: "w-1", heartbeatMS: heartbeatMS, deadAfterIntervals: deadAfter, serverVersion: "test")
    }

    func job(_ id: String, attempt: Int = 1) -> JobAssignment {
        JobAssignment(jobID: id, attempt: attempt, code: "def main():\n    return 1", inputs: [:], limits: JobLimits())
    }

    func outcome(_ id: String, attempt: Int = 1, status: JobStatus = .succeeded) -> JobOutcome {
        JobOutcome(jobID: id, attempt: attempt, status: status, result: 1)
    }

    func frames(_ command: BusCommand, _ body: some Encodable) -> ArraySlice<[UInt8]> {
        BusMessage(command, body).frames[...]
    }

    // MARK: Reading actions

    /// The messages the actions send, in order.
    func sent(_ actions: [WorkerSession.Action]) -> [BusMessage] {
        actions.compactMap {
            switch $0 {
            case .send(let message), .sendResult(let message, _), .sendOutput(let message, _): message
            default: nil
            }
        }
    }

    func commands(_ actions: [WorkerSession.Action]) -> [BusCommand] { sent(actions).map(\.command) }

    func bodies<Body: Decodable>(_ command: BusCommand, _ type: Body.Type, in actions: [WorkerSession.Action]) throws -> [Body] {
        try sent(actions).filter { $0.command == command }.map { try $0.decode(type) }
    }

    func started(_ actions: [WorkerSession.Action]) -> [RunningJob] {
        actions.compactMap { if case .start(let job) = $0 { RunningJob(jobID: job.jobID, attempt: job.attempt) } else { nil } }
    }

    func cancelled(_ actions: [WorkerSession.Action]) -> [RunningJob] {
        actions.compactMap { if case .cancel(let run) = $0 { run } else { nil } }
    }

    func connects(_ actions: [WorkerSession.Action]) -> Int {
        actions.filter { if case .connect = $0 { true } else { false } }.count
    }

    /// The `.end` action, if any: `.some(nil)` is a goodbye, `.some(error)` a refusal.
    func end(_ actions: [WorkerSession.Action]) -> (WorkerStopped?, Int)? {
        for case .end(let stopped, let linger) in actions { return (stopped, linger) }
        return nil
    }

    func logs(_ actions: [WorkerSession.Action]) -> [String] {
        actions.compactMap { if case .log(_, let message, _) = $0 { message } else { nil } }
    }

    // MARK: §8 items 1–3: hello, welcome, heartbeats

    @Test func startConnectsAndSaysHelloAndNothingElseBeforeWelcome() throws {
        var session = self.session()
        let actions = session.start(at: at(0))
        #expect(connects(actions) == 1)
        if case .connect = actions.first {} else { Issue.record("the socket opens before the hello: \(actions)") }
        let hello = try #require(try bodies(.hello, Hello.self, in: actions).first)
        #expect(hello.protocolVersion == 1 && hello.workerID == "w-1" && hello.name == "under-test" && hello.slots == 4)
        #expect(hello.kind == .cloud && hello.credential.workerToken == "t" && hello.running.isEmpty && hello.runtimes == ["python3"])
        #expect(commands(actions) == [.hello])
        // Not welcomed: no heartbeat, however long it waits short of the hello timeout.
        #expect(commands(session.tick(at: at(1))) == [])
        #expect(commands(session.tick(at: at(4.9))) == [])
        #expect(!session.isWelcomed)
        #expect(session.start(at: at(1)).isEmpty, "a second start does nothing")
    }

    @Test func aFreshCredentialGoesIntoEveryHello() throws {
        var configuration = WorkerConfiguration(serverEndpoint: "tcp://s:1", kind: .private, credential: WorkerCredential(accessToken: "old"))
        let counter = Counter()
        configuration.credentialSource = { WorkerCredential(accessToken: "fresh-\(counter.next())") }
        configuration.helloJitter = 0
        var session = WorkerSession(configuration: configuration)
        #expect(try bodies(.hello, Hello.self, in: session.start(at: at(0))).first?.credential.accessToken == "fresh-1")
        #expect(try bodies(.hello, Hello.self, in: session.tick(at: at(5))).first?.credential.accessToken == "fresh-2")
    }

    @Test func welcomeSetsTheHeartbeatAndHeartbeatsGoOutOnlyWhenQuiet() {
        var session = self.session()
        _ = session.start(at: at(0))
        let actions = session.received(frames(.welcome, welcome(heartbeatMS: 2000, deadAfter: 3)), at: at(0.5))
        #expect(session.isWelcomed && logs(actions) == ["connected"])
        #expect(session.tickInterval == .milliseconds(500), "polls every quarter heartbeat")
        #expect(commands(session.tick(at: at(1.5))) == [])
        #expect(commands(session.tick(at: at(2.5))) == [.heartbeat], "nothing sent for one interval")
        #expect(commands(session.tick(at: at(3))) == [])
        // Anything sent counts: a STARTED resets the heartbeat timer.
        _ = session.received(frames(.job, job("j")), at: at(4))
        #expect(commands(session.tick(at: at(5.9))) == [])
        #expect(commands(session.tick(at: at(6))) == [.heartbeat])
        // The server's heartbeats need no answer.
        #expect(commands(session.received(frames(.heartbeat, EmptyBody()), at: at(6.1))) == [])
    }

    @Test func theServersHeartbeatLengthensTheInterval() {
        var session = welcomed()
        // A growing fleet: from now on 3 s, for the worker's heartbeats and its patience.
        #expect(commands(session.received(frames(.heartbeat, ServerHeartbeat(heartbeatMS: 3000)), at: at(0.5))) == [])
        #expect(session.tickInterval == .milliseconds(750))
        #expect(commands(session.tick(at: at(2))) == [], "no heartbeat after one second any more")
        #expect(commands(session.tick(at: at(3))) == [.heartbeat])
        // Silent for 6 s (past 5 × 1 s, within 5 × 3 s): the server is not called dead.
        #expect(connects(session.tick(at: at(6.5))) == 0)
        #expect(connects(session.tick(at: at(16))) == 1)
    }

    @Test func welcomeValuesAreClamped() {
        var session = self.session()
        _ = session.start(at: at(0))
        _ = session.received(frames(.welcome, welcome(heartbeatMS: 1, deadAfter: 0)), at: at(0))
        #expect(session.tickInterval == .microseconds(12_500), "at least 50 ms heartbeats")
        // At least two intervals of silence: alive at 100 ms, reconnecting after.
        #expect(connects(session.tick(at: at(0.09))) == 0)
        #expect(connects(session.tick(at: at(0.11))) == 1)
    }

    // MARK: §8 item 6: reconnecting

    @Test func theHelloRetryBacksOffOnANewSocketEachTime() {
        var session = self.session()
        _ = session.start(at: at(0))
        var retries: [Double] = []
        var now = 0.0
        while now < 130 {
            now += 0.25
            let actions = session.tick(at: at(now))
            if connects(actions) == 1 {
                #expect(commands(actions) == [.hello])
                retries.append(now)
            }
        }
        // 5 s (the dead-peer timeout), then 10, 20, 30, 30 …
        #expect(retries == [5, 15, 35, 65, 95, 125])
        #expect(session.nextHelloWait(after: .seconds(5)) == .seconds(10))
        #expect(session.nextHelloWait(after: .seconds(20)) == .seconds(30))
    }

    @Test func helloRetriesAreJitteredWithinTheirWaits() {
        var configuration = WorkerConfiguration(serverEndpoint: "tcp://server:5555", kind: .cloud, credential: WorkerCredential(workerToken: "t"))
        configuration.maxReconnectDelay = 30
        configuration.helloJitter = 0.5
        var firstRetries: Set<Double> = []
        for seed in UInt64(1)...40 {
            var session = WorkerSession(configuration: configuration, seed: seed)
            _ = session.start(at: at(0))
            var retries: [Double] = []
            var now = 0.0
            while now < 170 {
                now += 0.05
                if connects(session.tick(at: at(now))) == 1 { retries.append(now) }
            }
            // Each wait is between its full length and half as long again: 5, 10, 20, 30, 30 … s.
            var previous = 0.0
            for (index, retry) in retries.prefix(5).enumerated() {
                let full = [5.0, 10, 20, 30, 30][index]
                let wait = retry - previous
                #expect(wait >= full - 0.06 && wait <= full * 1.5 + 0.06, "seed \(seed): wait \(index) was \(wait) s")
                previous = retry
            }
            if let first = retries.first { firstRetries.insert((first * 10).rounded()) }
        }
        #expect(firstRetries.count > 10, "workers that lost the server together come back spread out: \(firstRetries.sorted())")
    }

    @Test func aWelcomeResetsTheBackoff() {
        var session = self.session()
        _ = session.start(at: at(0))
        _ = session.tick(at: at(5))
        _ = session.tick(at: at(15))
        _ = session.received(frames(.welcome, welcome()), at: at(16))
        // The server goes silent: reconnect after 5 s, and the first wait is 5 s again.
        #expect(connects(session.tick(at: at(21))) == 0)
        let silent = session.tick(at: at(21.1))
        #expect(connects(silent) == 1 && commands(silent) == [.hello] && logs(silent).first == "server silent; reconnecting")
        #expect(connects(session.tick(at: at(26))) == 0)
        #expect(connects(session.tick(at: at(26.2))) == 1)
    }

    @Test func anyMessageFromTheServerCountsAsLife() {
        var session = welcomed()
        for second in stride(from: 4.0, through: 40, by: 4) {
            _ = session.received(frames(.heartbeat, EmptyBody()), at: at(second))
            #expect(connects(session.tick(at: at(second + 0.5))) == 0)
        }
        // Even garbage is a sign of life; it is dropped with a warning.
        let garbage = session.received([[0xff], [0x00]], at: at(44))
        #expect(logs(garbage) == ["dropped malformed message from server"] && commands(garbage).isEmpty)
        #expect(connects(session.tick(at: at(48))) == 0)
    }

    @Test func badMessagesAreDroppedAndTheSessionGoesOn() {
        var session = welcomed()
        #expect(logs(session.received([Array("AOS/1".utf8), Array("NOPE".utf8), Array("{}".utf8)], at: at(1))) == ["dropped malformed message from server"])
        #expect(logs(session.received(frames(.result, outcome("j")), at: at(1))) == ["bad message from server"], "a worker command from the server")
        #expect(logs(session.received([Array("AOS/1".utf8), Array("JOB".utf8), Array("{\"job_id\":1}".utf8)], at: at(1))) == ["bad message from server"])
        #expect(session.runningJobs.isEmpty && session.isWelcomed)
        #expect(started(session.received(frames(.job, job("j")), at: at(2))) == [RunningJob(jobID: "j", attempt: 1)])
    }

    // MARK: §8 items 4, 5 and 8: jobs, results, resending

    @Test func aJobStartsWithStartedAndItsResultGoesOut() throws {
        var session = welcomed()
        let actions = session.received(frames(.job, job("j", attempt: 3)), at: at(1))
        #expect(started(actions) == [RunningJob(jobID: "j", attempt: 3)])
        #expect(try bodies(.started, RunningJob.self, in: actions) == [RunningJob(jobID: "j", attempt: 3)])
        let finished = session.finished(outcome("j", attempt: 3), at: at(2))
        let results = try bodies(.result, JobOutcome.self, in: finished)
        #expect(results == [outcome("j", attempt: 3)])
        #expect(session.runningJobs.isEmpty && session.undelivered.isEmpty)
        #expect(session.finished(outcome("j", attempt: 3), at: at(2)).isEmpty, "a second end of the same run is nothing")
        #expect(session.finished(outcome("other"), at: at(2)).isEmpty, "nor is the end of a run this session never started")
    }

    @Test func resultsAreResentAfterAReconnect() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("done")), at: at(0.5))
        _ = session.received(frames(.job, job("going", attempt: 2)), at: at(0.5))
        _ = session.finished(outcome("done"), at: at(1))
        // The server goes away right after the result: was it received? The next hello says.
        let reconnect = session.tick(at: at(6.1))
        let hello = try #require(try bodies(.hello, Hello.self, in: reconnect).first)
        #expect(Set(hello.running) == [RunningJob(jobID: "done", attempt: 1), RunningJob(jobID: "going", attempt: 2)])
        #expect(session.undelivered == [RunningJob(jobID: "done", attempt: 1)])
        // A run that ends while the server is away waits for the welcome.
        #expect(commands(session.finished(outcome("going", attempt: 2), at: at(7))) == [])
        let welcome = session.received(frames(.welcome, welcome()), at: at(8))
        #expect(Set(try bodies(.result, JobOutcome.self, in: welcome).map(\.jobID)) == ["done", "going"])
        #expect(session.undelivered.isEmpty)
    }

    // MARK: Several servers sharing a store (§5.8)

    @Test func aSilentServerSendsTheWorkerToTheNextOneWithItsRuns() throws {
        var configuration = WorkerConfiguration(serverEndpoint: "tcp://a:5555", kind: .cloud, credential: WorkerCredential(workerToken: "t"))
        configuration.serverEndpoints = ["tcp://a:5555", "tcp://b:5555"]
        configuration.helloJitter = 0
        var session = WorkerSession(configuration: configuration)
        _ = session.start(at: at(0))
        #expect(session.endpoint == "tcp://a:5555")
        _ = session.received(frames(.welcome, welcome()), at: at(0))
        _ = session.received(frames(.job, job("going", attempt: 2)), at: at(0.5))
        // A is silent for more than 5 heartbeats: the next connection goes to B, with the run.
        let moved = session.tick(at: at(5.6))
        #expect(connects(moved) == 1 && session.endpoint == "tcp://b:5555")
        #expect(try bodies(.hello, Hello.self, in: moved).first?.running == [RunningJob(jobID: "going", attempt: 2)])
        // B does not welcome it either: back to A, and so on in turn.
        _ = session.tick(at: at(11))
        #expect(session.endpoint == "tcp://a:5555")
    }

    @Test func runsAreGivenUpUnreportedAfterHalfALeaseWithoutAServer() throws {
        var session = session()
        _ = session.start(at: at(0))
        var lease = welcome()
        lease.leaseMS = 10_000
        _ = session.received(frames(.welcome, lease), at: at(0))
        _ = session.received(frames(.job, job("held")), at: at(0.5))
        // Heard from until 3 s; past 3 + 5 s the lease's half is over, whatever the reconnects.
        _ = session.received(frames(.heartbeat, EmptyBody()), at: at(3))
        #expect(cancelled(session.tick(at: at(7.9))).isEmpty)
        let givenUp = session.tick(at: at(8.1))
        #expect(cancelled(givenUp) == [RunningJob(jobID: "held", attempt: 1)])
        #expect(session.runningJobs.isEmpty)
        #expect(session.finished(outcome("held", status: .cancelled), at: at(8.2)).isEmpty, "its end is not reported")
        let hello = session.tick(at: at(20))
        #expect(try bodies(.hello, Hello.self, in: hello).allSatisfy { $0.running.isEmpty }, "nor listed in the next HELLO")
    }

    @Test func withoutALeaseRunsAreKeptThroughAnyOutage() {
        var session = welcomed()
        _ = session.received(frames(.job, job("kept")), at: at(0.5))
        for second in stride(from: 6.0, through: 120, by: 6) { #expect(cancelled(session.tick(at: at(second))).isEmpty) }
        #expect(session.runningJobs.count == 1)
    }

    @Test func recentlySentResultsAreForgottenAfterTwiceTheDeadPeerTimeout() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0))
        _ = session.finished(outcome("j"), at: at(0))
        for second in stride(from: 1.0, through: 11, by: 1) {
            _ = session.received(frames(.heartbeat, EmptyBody()), at: at(second))
            _ = session.tick(at: at(second))
        }
        let hello = try bodies(.hello, Hello.self, in: session.tick(at: at(16.5)))
        #expect(hello.first?.running == [], "\(hello)")
    }

    @Test func aResultThatCouldNotBeSentWaitsForTheNextChance() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0))
        let finished = session.finished(outcome("j"), at: at(1))
        guard case .sendResult(_, let run)? = finished.first(where: { if case .sendResult = $0 { true } else { false } }) else {
            Issue.record("no result in \(finished)")
            return
        }
        session.resultNotSent(run)
        #expect(session.undelivered == [run])
        // The next welcome (after REJECT not_registered, say) sends it.
        _ = session.received(frames(.reject, Reject(code: Reject.notRegistered, message: "send HELLO first")), at: at(2))
        #expect(try bodies(.result, JobOutcome.self, in: session.received(frames(.welcome, welcome()), at: at(2))).map(\.jobID) == ["j"])
    }

    @Test func aRepeatedOrOlderJobIsIgnoredAndANewerAttemptReplacesTheRun() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j", attempt: 2)), at: at(0))
        let repeated = session.received(frames(.job, job("j", attempt: 2)), at: at(1))
        let older = session.received(frames(.job, job("j", attempt: 1)), at: at(1))
        #expect(repeated.isEmpty && older.isEmpty, "ignored, and no RELEASE")
        let newer = session.received(frames(.job, job("j", attempt: 3)), at: at(2))
        #expect(cancelled(newer) == [RunningJob(jobID: "j", attempt: 2)] && started(newer) == [RunningJob(jobID: "j", attempt: 3)])
        #expect(commands(newer) == [.started])
        #expect(session.finished(outcome("j", attempt: 2, status: .cancelled), at: at(3)).isEmpty, "the old attempt is never reported")
        #expect(try bodies(.result, JobOutcome.self, in: session.finished(outcome("j", attempt: 3), at: at(4))).map(\.attempt) == [3])
    }

    @Test func aNewerAttemptDropsAnUndeliveredOutcomeOfTheOldOne() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0))
        // The old run's result cannot go out (the send fails), then the server, having
        // given up on attempt 1, sends attempt 2.
        let finished = session.finished(outcome("j"), at: at(1))
        for case .sendResult(_, let run) in finished { session.resultNotSent(run) }
        #expect(session.undelivered == [RunningJob(jobID: "j", attempt: 1)])
        let newer = session.received(frames(.job, job("j", attempt: 2)), at: at(2))
        #expect(started(newer) == [RunningJob(jobID: "j", attempt: 2)] && cancelled(newer).isEmpty)
        #expect(session.undelivered.isEmpty)
        // The next hello reports only the new run, and the old outcome never goes out.
        let hello = try #require(try bodies(.hello, Hello.self, in: session.tick(at: at(7.1))).first)
        #expect(hello.running == [RunningJob(jobID: "j", attempt: 2)])
        #expect(try bodies(.result, JobOutcome.self, in: session.received(frames(.welcome, welcome()), at: at(8))).isEmpty)
        // A newer attempt replaces a recently sent outcome the same way.
        #expect(try bodies(.result, JobOutcome.self, in: session.finished(outcome("j", attempt: 2), at: at(9))).map(\.attempt) == [2])
        _ = session.received(frames(.job, job("j", attempt: 3)), at: at(10))
        let again = try #require(try bodies(.hello, Hello.self, in: session.tick(at: at(15.1))).first)
        #expect(again.running == [RunningJob(jobID: "j", attempt: 3)])
    }

    // MARK: §3.8: CANCEL

    @Test func cancelStopsTheRunAndItsOutcomeGoesOutAsUsual() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0))
        let cancel = session.received(frames(.cancel, RunningJob(jobID: "j", attempt: 1)), at: at(1))
        #expect(cancelled(cancel) == [RunningJob(jobID: "j", attempt: 1)] && commands(cancel).isEmpty)
        let end = session.finished(outcome("j", status: .cancelled), at: at(2))
        #expect(try bodies(.result, JobOutcome.self, in: end).map(\.status) == [.cancelled])
    }

    @Test func cancelForAnotherAttemptOrAnUnknownRunIsAnsweredWithRelease() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j", attempt: 2)), at: at(0))
        let other = session.received(frames(.cancel, RunningJob(jobID: "j", attempt: 1)), at: at(1))
        #expect(cancelled(other).isEmpty)
        #expect(try bodies(.release, RunningJob.self, in: other) == [RunningJob(jobID: "j", attempt: 1)])
        let ghost = session.received(frames(.cancel, RunningJob(jobID: "ghost", attempt: 1)), at: at(1))
        #expect(try bodies(.release, RunningJob.self, in: ghost) == [RunningJob(jobID: "ghost", attempt: 1)])
        #expect(session.runningJobs == [RunningJob(jobID: "j", attempt: 2)])
    }

    @Test func cancelOfADeliveredResultReleasesAndForgetsIt() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0))
        _ = session.finished(outcome("j"), at: at(1))
        let cancel = session.received(frames(.cancel, RunningJob(jobID: "j", attempt: 1)), at: at(2))
        #expect(commands(cancel) == [.release])
        // Not resent after a reconnect.
        let hello = try #require(try bodies(.hello, Hello.self, in: session.tick(at: at(7.1))).first)
        #expect(hello.running.isEmpty)
    }

    @Test func cancelsBeforeWelcomeAreHandledAndTheOutcomeIsKept() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("running")), at: at(0))
        _ = session.received(frames(.job, job("finished")), at: at(0))
        _ = session.finished(outcome("finished"), at: at(0.5))
        // The server restarts: the worker reconnects and reports both; in reply to the hello
        // the server sends its CANCELs first, then WELCOME.
        let hello = try #require(try bodies(.hello, Hello.self, in: session.tick(at: at(5.6))).first)
        #expect(Set(hello.running.map(\.jobID)) == ["running", "finished"])
        let cancelRunning = session.received(frames(.cancel, RunningJob(jobID: "running", attempt: 1)), at: at(6))
        #expect(cancelled(cancelRunning) == [RunningJob(jobID: "running", attempt: 1)] && commands(cancelRunning).isEmpty)
        let cancelFinished = session.received(frames(.cancel, RunningJob(jobID: "finished", attempt: 1)), at: at(6))
        #expect(commands(cancelFinished).isEmpty, "kept, and nothing sent before WELCOME")
        let cancelGhost = session.received(frames(.cancel, RunningJob(jobID: "ghost", attempt: 1)), at: at(6))
        #expect(commands(cancelGhost).isEmpty, "no RELEASE before WELCOME: that run no longer counts against the slots")
        #expect(commands(session.finished(outcome("running", status: .cancelled), at: at(6.5))).isEmpty)
        let welcome = session.received(frames(.welcome, welcome()), at: at(7))
        #expect(Set(try bodies(.result, JobOutcome.self, in: welcome).map(\.jobID)) == ["running", "finished"])
    }

    // MARK: §3.3 and §8 item 7: REJECT

    @Test func notRegisteredWhileWelcomedSaysHelloAgainOnTheSameSocket() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0))
        let reject = session.received(frames(.reject, Reject(code: Reject.notRegistered, message: "send HELLO first")), at: at(1))
        #expect(connects(reject) == 0 && commands(reject) == [.hello])
        #expect(try bodies(.hello, Hello.self, in: reject).first?.running == [RunningJob(jobID: "j", attempt: 1)])
        #expect(!session.isWelcomed)
        // Not welcomed: another one is left to the hello retry.
        #expect(session.received(frames(.reject, Reject(code: Reject.notRegistered, message: "send HELLO first")), at: at(2)).isEmpty)
        #expect(connects(session.tick(at: at(6))) == 1)
    }

    @Test func unavailableWaitsForTheHelloRetry() {
        var session = self.session()
        _ = session.start(at: at(0))
        let reject = session.received(frames(.reject, Reject(code: Reject.unavailable, message: "the server cannot check credentials right now: busy")), at: at(0.1))
        #expect(commands(reject).isEmpty && logs(reject) == ["server could not accept this worker yet"])
        #expect(connects(session.tick(at: at(4.9))) == 0)
        #expect(connects(session.tick(at: at(5))) == 1)
    }

    @Test(arguments: [Reject.unauthorized, Reject.badRequest, Reject.unsupportedProtocol, Reject.workerIDTaken])
    func anyOtherRejectIsFatal(code: String) throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0))
        let reject = session.received(frames(.reject, Reject(code: code, message: "no")), at: at(1))
        #expect(cancelled(reject) == [RunningJob(jobID: "j", attempt: 1)] && end(reject) == nil, "waits for the job to stop")
        #expect(session.received(frames(.job, job("k")), at: at(1.5)).isEmpty, "nothing the server says counts any more")
        let stopped = session.finished(outcome("j", status: .cancelled), at: at(2))
        let (failure, linger) = try #require(end(stopped))
        #expect(failure?.description == "the server refused this worker: no" && linger == 0)
        #expect(commands(stopped).isEmpty, "no RESULT, RELEASE or BYE")
        #expect(session.hasEnded && session.tick(at: at(3)).isEmpty)
    }

    @Test func aRefusedDesktopIsToldToLogInAgainAndStopsWithinTheGraceEvenIfAJobHangs() throws {
        var session = welcomed(kind: .private)
        _ = session.received(frames(.job, job("stuck")), at: at(0))
        _ = session.received(frames(.reject, Reject(code: Reject.unauthorized, message: "revoked")), at: at(1))
        #expect(end(session.tick(at: at(5.9))) == nil)
        let late = session.tick(at: at(6))
        let (failure, _) = try #require(end(late))
        #expect(failure?.description.contains("run `agentos login` again") == true)
        #expect(logs(late).contains("jobs did not stop in time"))
    }

    // MARK: §8 item 9: shutdown

    @Test func shutdownDrainsDeliversAndSaysGoodbye() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0))
        let shutdown = session.shutdown(at: at(1))
        #expect(commands(shutdown) == [.drain] && end(shutdown) == nil)
        #expect(session.shutdown(at: at(1.1)).isEmpty, "asked once")
        let late = session.received(frames(.job, job("late")), at: at(2))
        #expect(try bodies(.release, RunningJob.self, in: late) == [RunningJob(jobID: "late", attempt: 1)] && started(late).isEmpty)
        // Still alive while draining: heartbeats go on.
        #expect(commands(session.tick(at: at(3.1))) == [.heartbeat])
        let done = session.finished(outcome("j"), at: at(4))
        #expect(commands(done) == [.result] && end(done) == nil, "the result goes out first")
        let bye = session.tick(at: at(4.1))
        #expect(commands(bye) == [.bye])
        let (failure, linger) = try #require(end(bye))
        #expect(failure == nil && linger == 500)
    }

    @Test func aResultTheSocketRefusesDuringTheDrainIsRetriedBeforeTheGoodbye() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0))
        _ = session.shutdown(at: at(1))
        for case .sendResult(_, let run) in session.finished(outcome("j"), at: at(2)) { session.resultNotSent(run) }
        let retry = session.tick(at: at(2.1))
        #expect(commands(retry) == [.result] && end(retry) == nil, "sent again, and no goodbye yet")
        #expect(commands(session.tick(at: at(2.2))) == [.bye])
    }

    @Test func aWorkerNeverWelcomedLeavesWithoutAGoodbye() throws {
        var session = self.session()
        _ = session.start(at: at(0))
        let actions = session.shutdown(at: at(1))
        #expect(commands(actions).isEmpty)
        let (failure, _) = try #require(end(actions))
        #expect(failure == nil)
    }

    @Test func aRefusalWhileStoppingAfterTheDrainStillStopsWithTheReason() throws {
        var session = welcomed(drainTimeout: 1)
        _ = session.received(frames(.job, job("long")), at: at(0))
        _ = session.shutdown(at: at(0.5))
        #expect(cancelled(session.tick(at: at(1.5))) == [RunningJob(jobID: "long", attempt: 1)])
        _ = session.received(frames(.reject, Reject(code: Reject.unauthorized, message: "revoked")), at: at(1.6))
        let stopped = session.finished(outcome("long", status: .cancelled), at: at(2))
        #expect(commands(stopped).isEmpty, "no goodbye for a refused worker")
        #expect(end(stopped)?.0?.description.contains("revoked") == true)
    }

    @Test func whatOutlastsTheDrainIsStoppedAndNotReported() throws {
        var session = welcomed(drainTimeout: 10)
        _ = session.received(frames(.job, job("long")), at: at(0))
        _ = session.shutdown(at: at(1))
        for second in stride(from: 2.0, to: 11, by: 1) {
            _ = session.received(frames(.heartbeat, EmptyBody()), at: at(second))
            #expect(cancelled(session.tick(at: at(second))).isEmpty)
        }
        let deadline = session.tick(at: at(11))
        #expect(cancelled(deadline) == [RunningJob(jobID: "long", attempt: 1)] && end(deadline) == nil)
        let stopped = session.finished(outcome("long", status: .cancelled), at: at(11.5))
        #expect(commands(stopped) == [.bye], "no RESULT and no RELEASE for a stopped run")
        #expect(end(stopped)?.0 == nil)
    }

    @Test func shutdownWithNothingRunningLeavesAtOnce() {
        var session = welcomed()
        let actions = session.shutdown(at: at(1))
        #expect(commands(actions) == [.drain, .bye] && end(actions) != nil)
    }

    @Test func drainingWhileAwayTellsTheServerAfterTheWelcome() throws {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0))
        _ = session.finished(outcome("j"), at: at(0.5))
        _ = session.tick(at: at(5.6))
        let shutdown = session.shutdown(at: at(6))
        #expect(commands(shutdown).isEmpty, "nothing before WELCOME")
        let welcome = session.received(frames(.welcome, welcome()), at: at(7))
        #expect(commands(welcome) == [.drain, .result])
        #expect(commands(session.tick(at: at(7.1))) == [.bye])
    }

    // MARK: §3.7: the bus limit

    @Test func oversizedOutcomeBecomesAnOutputLimitFailure() {
        let huge = JobOutcome(jobID: "j", attempt: 1, status: .succeeded, result: .string(String(repeating: "x", count: Bus.maxMessageBytes)))
        let fitted = WorkerSession.fitting(huge)
        #expect(fitted.status == .failed && fitted.result == nil && fitted.error?.hasPrefix("output_limit") == true)
        #expect(BusMessage(.result, fitted).body.count < Bus.maxMessageBytes)
        let small = JobOutcome(jobID: "j", attempt: 1, status: .succeeded, result: 1)
        #expect(WorkerSession.fitting(small) == small)
    }

    // MARK: Live output (§3.13)

    @Test func liveOutputGoesOnlyForARunningAttemptOfAWelcomedWorker() {
        var session = self.session()
        _ = session.start(at: at(0))
        let chunk = JobOutputChunk(jobID: "j", attempt: 1, stdoutOffset: 0, stdout: "hi\n", stderrOffset: 0, stderr: "")
        let beforeWelcome = session.output(chunk, at: at(0))
        #expect(beforeWelcome.isEmpty, "not before WELCOME")
        _ = session.received(frames(.welcome, welcome()), at: at(0))
        let notRunning = session.output(chunk, at: at(0))
        #expect(notRunning.isEmpty, "not for a job that does not run here")
        _ = session.received(frames(.job, job("j")), at: at(0.1))
        let running = session.output(chunk, at: at(0.2))
        #expect(commands(running) == [.output])
        var stale = chunk
        stale.attempt = 2
        let otherAttempt = session.output(stale, at: at(0.2))
        #expect(otherAttempt.isEmpty, "not for another attempt")
        _ = session.finished(outcome("j"), at: at(0.3))
        let ended = session.output(chunk, at: at(0.4))
        #expect(ended.isEmpty, "not once the run has ended: its RESULT has it all")
    }

    @Test func liveOutputCountsAsTrafficSoNoHeartbeatIsNeeded() {
        var session = welcomed()
        _ = session.received(frames(.job, job("j")), at: at(0.1))
        let chunk = JobOutputChunk(jobID: "j", attempt: 1, stdoutOffset: 0, stdout: "tick\n", stderrOffset: 0, stderr: "")
        _ = session.output(chunk, at: at(0.9))
        let tick = session.tick(at: at(1.2))
        #expect(!commands(tick).contains(.heartbeat))
    }
}

/// Counts calls from a `@Sendable` closure.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}
