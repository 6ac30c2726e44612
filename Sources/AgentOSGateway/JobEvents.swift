import AgentOSAPI
import AgentOSWire
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /api/v1/jobs/{id}/events`: a job's life as Server-Sent Events. `status` when it
/// changes (`queued`, `running`, …), then `output` (stdout, stderr) and `result` when it
/// ends, then the stream closes. The gateway follows the job with short long-polls, so the
/// caller's rights are checked by the server on every read.
enum JobEvents {
    /// The route, for the router and the API document.
    static let path = OpenAPIDocument.jobEventsPath
    /// Longest a stream stays open.
    static let maxDuration: Duration = .seconds(3600)

    static func response(request: Request, id: String, client: ServerClient, configuration: GatewayConfiguration) async -> Response {
        let token = Forwarder.bearerToken(request)
        // The first read answers errors (401, 404, 503) as ordinary JSON, before any stream starts.
        let first = await client.call(.getJob, token: token, params: ["id": id], timeout: configuration.serverTimeout)
        guard case .success(let answer) = first, answer.status == 200 else {
            if case .success(let answer) = first { return Forwarder.response(answer) }
            return Forwarder.json(status: .serviceUnavailable, Schemas.ErrorBody(code: "unavailable", message: "the server is unreachable; try again shortly"))
        }
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var body = answer.body
            var lastStatus: JobStatus?
            let deadline = ContinuousClock.now + maxDuration
            while true {
                let job: Schemas.Job
                do {
                    job = try APICoding.decode(Schemas.Job.self, from: body)
                } catch {
                    try await writer.write(event("error", Schemas.StreamError(message: "the server's answer is not a job: \(error)")))
                    break
                }
                if job.status != lastStatus {
                    try await writer.write(event("status", Schemas.JobStatusEvent(id: job.id, status: job.status, attempts: job.attempts, worker: job.worker)))
                    lastStatus = job.status
                }
                if job.status.isFinal {
                    try await writer.write(event("output", Schemas.JobOutputEvent(
                        stdout: job.stdout ?? "", stderr: job.stderr ?? "", outputTruncated: job.outputTruncated)))
                    try await writer.write(event("result", Schemas.JobResultEvent(
                        status: job.status, result: job.result, error: job.error, exitCode: job.exitCode, durationMS: job.durationMS)))
                    break
                }
                guard ContinuousClock.now < deadline else { break }
                // Short waits: the server answers at once when the job ends, and within two
                // seconds otherwise, so `queued → running` shows up too.
                let next = await client.call(
                    .getJob, token: token, params: ["id": id, "wait": "2"], timeout: configuration.serverTimeout + .seconds(2))
                guard case .success(let update) = next, update.status == 200 else {
                    let message = if case .success(let update) = next {
                        (try? APICoding.decode(Schemas.ErrorBody.self, from: update.body))?.error.message ?? "error"
                    } else {
                        "the server is unreachable"
                    }
                    try await writer.write(event("error", Schemas.StreamError(message: message)))
                    break
                }
                body = update.body
            }
            try await writer.finish(nil)
        })
    }

    private static func event(_ name: String, _ data: some Encodable) -> ByteBuffer {
        ByteBuffer(string: "event: \(name)\ndata: \(String(decoding: (try? APICoding.encode(data)) ?? Data("{}".utf8), as: UTF8.self))\n\n")
    }
}
