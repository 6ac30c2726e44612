import AgentOSAPI
import AgentOSWire
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /api/v1/jobs/{id}/events`: a job's life as Server-Sent Events, pushed as it happens.
/// `status` whenever the status or attempt changes; `output` with each piece of output its
/// worker streams while it runs; once it has ended, a last `output` (`final: true`) with the
/// rest of its stored output and then `result`, and the stream closes. Every event has an
/// `id:`, a cursor (`JobEventCursor`); a client that reconnects with `Last-Event-ID` gets
/// what came after it, nothing twice and nothing lost. The gateway follows the job with the
/// server's `jobs.output` long poll, which answers as soon as anything changes, so the
/// caller's rights are checked by the server on every read.
enum JobEvents {
    /// The route, for the router and the API document.
    static let path = OpenAPIDocument.jobEventsPath
    /// Longest a stream stays open.
    static let maxDuration: Duration = .seconds(3600)
    /// Longest one long poll waits; a quiet stream gets a comment line this often.
    static let pollSeconds = 25

    static func response(request: Request, id: String, client: any ServerCalls, configuration: GatewayConfiguration) async -> Response {
        let token = Forwarder.bearerToken(request)
        let resumed = request.headers[HTTPField.Name("Last-Event-ID")!].flatMap { JobEventCursor($0) } ?? JobEventCursor()
        // A client resuming after the result has everything: 204 tells an EventSource to stop.
        if resumed.ended { return Response(status: .noContent) }
        // The first read answers errors (401, 404, 503) as ordinary JSON, before any stream starts.
        let first = await client.call(.getJobOutput, token: token, params: resumed.params(id: id), timeout: configuration.serverTimeout)
        guard case .success(let answer) = first, answer.status == 200 else {
            if case .success(let answer) = first { return Forwarder.response(answer) }
            return Forwarder.json(status: .serviceUnavailable, Schemas.ErrorBody(code: "unavailable", message: client.unreachableMessage))
        }
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var body = answer.body
            var cursor = resumed
            let deadline = ContinuousClock.now + maxDuration
            while true {
                let page: Schemas.JobOutputPage
                do {
                    page = try APICoding.decode(Schemas.JobOutputPage.self, from: body)
                } catch {
                    try await writer.write(event("error", nil, Schemas.StreamError(message: "the server's answer is not a job: \(error)")))
                    break
                }
                let (events, ended) = cursor.advance(with: page)
                if events.isEmpty {
                    // A quiet long poll: a comment keeps proxies from closing the stream.
                    try await writer.write(ByteBuffer(string: ": waiting\n\n"))
                } else {
                    var buffer = ByteBuffer()
                    for (name, eventID, data) in events { buffer.writeImmutableBuffer(event(name, eventID, data)) }
                    try await writer.write(buffer)
                }
                if ended { break }
                guard ContinuousClock.now < deadline else { break }
                var params = cursor.params(id: id)
                params["wait"] = String(pollSeconds)
                let next = await client.call(
                    .getJobOutput, token: token, params: params, timeout: configuration.serverTimeout + .seconds(pollSeconds))
                guard case .success(let update) = next, update.status == 200 else {
                    let message = if case .success(let update) = next {
                        (try? APICoding.decode(Schemas.ErrorBody.self, from: update.body))?.error.message ?? "error"
                    } else {
                        "the server is unreachable"
                    }
                    try await writer.write(event("error", nil, Schemas.StreamError(message: message)))
                    break
                }
                body = update.body
            }
            try await writer.finish(nil)
        })
    }

    private static func event(_ name: String, _ id: String?, _ data: some Encodable) -> ByteBuffer {
        let json = String(decoding: (try? APICoding.encode(data)) ?? Data("{}".utf8), as: UTF8.self)
        return ByteBuffer(string: (id.map { "id: \($0)\n" } ?? "") + "event: \(name)\ndata: \(json)\n\n")
    }
}

/// Where a client stands in a job's event stream, and the `id:` of each event:
/// `ATTEMPT.STDOUT.STDERR.STATE`, the attempt whose output it has, the UTF-8 bytes of each
/// stream of that attempt it has, and the last status it was sent (`end` after `result`).
/// A fresh stream starts at `0.0.0.` (nothing seen).
struct JobEventCursor: Equatable {
    var attempt = 0
    var stdout = 0
    var stderr = 0
    var status: JobStatus?
    var ended = false

    init() {}

    /// A cursor from a `Last-Event-ID`; nil when it is not one of ours (the stream starts over).
    init?(_ text: String) {
        let fields = text.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 4, let attempt = Int(fields[0]), let stdout = Int(fields[1]), let stderr = Int(fields[2]),
            attempt >= 0, stdout >= 0, stderr >= 0
        else { return nil }
        self.attempt = attempt
        self.stdout = stdout
        self.stderr = stderr
        if fields[3] == "end" {
            ended = true
        } else if !fields[3].isEmpty {
            guard let status = JobStatus(rawValue: String(fields[3])) else { return nil }
            self.status = status
        }
    }

    var id: String { "\(attempt).\(stdout).\(stderr).\(ended ? "end" : status?.rawValue ?? "")" }

    /// The `jobs.output` parameters that ask for what comes after this cursor.
    func params(id jobID: String) -> [String: String] {
        var params = ["id": jobID, "attempt": String(attempt), "stdout_offset": String(stdout), "stderr_offset": String(stderr)]
        if let status { params["status"] = status.rawValue }
        return params
    }

    /// The events `page` brings past this cursor, each with its id, moving the cursor past
    /// them; and whether the stream is over (the result was sent).
    mutating func advance(with page: Schemas.JobOutputPage) -> (events: [(String, String, any Encodable & Sendable)], ended: Bool) {
        var events: [(String, String, any Encodable & Sendable)] = []
        let job = page.job
        if job.attempts != attempt {
            // Another attempt: its output starts over (the page's offsets are 0 then).
            attempt = job.attempts
            stdout = 0
            stderr = 0
            status = nil
        }
        if job.status != status {
            status = job.status
            events.append(("status", id, Schemas.JobStatusEvent(id: job.id, status: job.status, attempts: job.attempts, worker: job.worker)))
        }
        // Only text that starts where this cursor stands: never a repeat, never a gap.
        let stdoutText = page.stdoutOffset == stdout ? page.stdout : ""
        let stderrText = page.stderrOffset == stderr ? page.stderr : ""
        let final = job.status.isFinal
        if final || !stdoutText.isEmpty || !stderrText.isEmpty {
            let piece = Schemas.JobOutputEvent(
                stdout: stdoutText, stderr: stderrText, outputTruncated: job.outputTruncated, attempt: attempt,
                stdoutOffset: stdout, stderrOffset: stderr, final: final)
            stdout = max(stdout, page.stdoutOffset == stdout ? page.nextStdoutOffset : stdout)
            stderr = max(stderr, page.stderrOffset == stderr ? page.nextStderrOffset : stderr)
            events.append(("output", id, piece))
        }
        if final {
            ended = true
            events.append(("result", id, Schemas.JobResultEvent(
                status: job.status, result: job.result, error: job.error, exitCode: job.exitCode, durationMS: job.durationMS)))
        }
        return (events, final)
    }
}
