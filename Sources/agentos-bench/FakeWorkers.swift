// Fake cloud workers for the dispatcher benches: many DEALER connections owned by one thread,
// speaking the bus protocol of docs/PROTOCOL.md but running nothing. `instant` answers every
// JOB with a succeeded RESULT at once, so the server is the only thing measured; `idle` only
// says HELLO and heartbeats, to measure what connected workers cost the server.
import AgentOSAuth
import AgentOSWire
import Foundation
import ZeroMQ

extension CurveClient {
    /// CURVE for a fake worker with `token`, when `AGENTOS_SERVER_KEY` (a key or a file holding it) is set.
    static func fromEnvironment(token: String) throws -> CurveClient? {
        guard let given = ProcessInfo.processInfo.environment["AGENTOS_SERVER_KEY"], !given.isEmpty else { return nil }
        guard let key = CurveKeyPair.key(inTextOrFile: given) else {
            FileHandle.standardError.write(Data("AGENTOS_SERVER_KEY is neither a CURVE public key nor a file holding one: \(given)\n".utf8))
            exit(2)
        }
        return CurveClient(serverPublicKey: key, keyPair: try CurveKeyPair(secretBytes: SecretToken.busKeySeed(token)))
    }
}

struct FakeWorkerFleet {
    let endpoint: String
    let token: String
    let workers: Int
    let slots: Int
    /// Instant workers answer jobs at once; idle ones never answer (run them with an empty queue).
    let answerJobs: Bool
    /// Stop after this many results (instant), or after this many seconds (idle); nil runs until killed.
    let stopAfterJobs: Int?
    let stopAfterSeconds: Double?
    /// CURVE, with the key pair the token stands for (PROTOCOL.md §1.1), when the bus runs it.
    var curve: CurveClient?

    func run() throws {
        let context = try Context(ioThreads: 1, maxSockets: workers + 16)
        var sockets: [Socket] = []
        var poller = Poller()
        for index in 0..<workers {
            let socket = try context.makeSocket(.dealer)
            try socket.setLinger(0)
            if let curve { try socket.setCurveClient(curve) }
            try socket.setSendHighWaterMark(100_000)
            // Several servers (comma-separated): the workers spread over them in turn.
            let endpoints = endpoint.split(separator: ",").map(String.init)
            try socket.connect(endpoints[index % endpoints.count])
            sockets.append(socket)
            poller.add(socket)
            try send(socket, .hello, hello(index))
        }
        // Hellos the server shed (REJECT unavailable) are said again, after a random wait, as a real worker does.
        var retries: [Int: Date] = [:]
        // Each worker's heartbeat interval, as its WELCOME gave it (PROTOCOL.md §8), and when
        // it last sent anything.
        var intervals = [TimeInterval](repeating: 1, count: workers)
        var lastSent = [Date](repeating: Date(), count: workers)
        let started = Date()
        var welcomed = 0, answered = 0, rejected = 0
        var firstJob: Date?
        var nextBeat = Date().addingTimeInterval(1)
        var nextReport = Date().addingTimeInterval(5)
        while true {
            let wake = min(nextBeat, retries.values.min() ?? nextBeat)
            let ready = try poller.poll(timeoutMs: max(0, Int(wake.timeIntervalSinceNow * 1000)))
            for index in ready {
                let socket = sockets[index]
                while let frames = try socket.receive(dontWait: true) {
                    guard let message = try? BusMessage(frames: frames[...]) else { continue }
                    switch message.command {
                    case .welcome:
                        welcomed += 1
                        if let welcome = try? message.decode(Welcome.self) { intervals[index] = Double(welcome.heartbeatMS) / 1000 }
                    case .heartbeat:
                        if let milliseconds = (try? message.decode(ServerHeartbeat.self))?.heartbeatMS { intervals[index] = Double(milliseconds) / 1000 }
                    case .reject:
                        let reject = try? message.decode(Reject.self)
                        if reject?.code == Reject.unavailable {
                            retries[index] = Date().addingTimeInterval(Double.random(in: 1...4))
                            continue
                        }
                        rejected += 1
                        FileHandle.standardError.write(Data("fake worker \(index) rejected: \(reject?.code ?? "") \(reject?.message ?? "")\n".utf8))
                    case .job where answerJobs:
                        let job = try message.decode(JobAssignment.self)
                        if firstJob == nil { firstJob = Date() }
                        lastSent[index] = Date()
                        try send(socket, .result, JobOutcome(
                            jobID: job.jobID, attempt: job.attempt, status: .succeeded, result: 1, stdout: "", stderr: "",
                            exitCode: 0, error: nil, outputTruncated: false, durationMS: 0))
                        answered += 1
                        if let stopAfterJobs, answered >= stopAfterJobs {
                            let seconds = Date().timeIntervalSince(firstJob ?? started)
                            print(String(format: "instant workers: %d jobs in %.2f s from the first JOB, %.0f jobs/s", answered, seconds, Double(answered) / seconds))
                            return
                        }
                    default:
                        break
                    }
                }
            }
            let now = Date()
            for (index, at) in retries where at <= now {
                retries[index] = nil
                try send(sockets[index], .hello, hello(index))
            }
            if now >= nextBeat {
                for (index, socket) in sockets.enumerated() where now.timeIntervalSince(lastSent[index]) >= intervals[index] - 0.5 {
                    try send(socket, .heartbeat, EmptyBody())
                    lastSent[index] = now
                }
                nextBeat = now.addingTimeInterval(1)
            }
            if now >= nextReport {
                FileHandle.standardError.write(Data("fake workers: \(welcomed)/\(workers) welcomed, \(rejected) rejected, \(answered) jobs answered\n".utf8))
                nextReport = now.addingTimeInterval(5)
            }
            if let stopAfterSeconds, now.timeIntervalSince(started) >= stopAfterSeconds { return }
        }
    }

    private func hello(_ index: Int) -> Hello {
        let name = "\(answerJobs ? "instant" : "idle")-\(getpid())-\(index)"
        return Hello(
            workerID: name, name: name, version: AgentOSVersion.current, slots: slots, labels: [], runtimes: ["python3"],
            kind: .cloud, credential: WorkerCredential(workerToken: token), running: [])
    }

    private func send(_ socket: Socket, _ command: BusCommand, _ body: some Encodable) throws {
        try socket.send(BusMessage(command, body).frames, dontWait: true)
    }
}
