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
            return Forwarder.json(status: .serviceUnavailable, ["error": ["code": "unavailable", "message": "the server is unreachable; try again shortly"]])
        }
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var job = answer.json ?? .null
            var lastStatus = ""
            let deadline = ContinuousClock.now + maxDuration
            while true {
                let status = job["status"]?.stringValue ?? ""
                if status != lastStatus {
                    try await writer.write(event("status", [
                        "id": job["id"] ?? .null, "status": .string(status), "attempts": job["attempts"] ?? .null,
                        "worker": job["worker"] ?? .null,
                    ]))
                    lastStatus = status
                }
                if JobStatus(rawValue: status)?.isFinal == true {
                    try await writer.write(event("output", [
                        "stdout": job["stdout"] ?? "", "stderr": job["stderr"] ?? "", "output_truncated": job["output_truncated"] ?? false,
                    ]))
                    try await writer.write(event("result", [
                        "status": .string(status), "result": job["result"] ?? .null, "error": job["error"] ?? .null,
                        "exit_code": job["exit_code"] ?? .null, "duration_ms": job["duration_ms"] ?? .null,
                    ]))
                    break
                }
                guard ContinuousClock.now < deadline else { break }
                // Short waits: the server answers at once when the job ends, and within two
                // seconds otherwise, so `queued → running` shows up too.
                let next = await client.call(
                    .getJob, token: token, params: ["id": id, "wait": "2"], timeout: configuration.serverTimeout + .seconds(2))
                guard case .success(let update) = next, update.status == 200 else {
                    let message = if case .success(let update) = next { update.json?["error"]?["message"]?.stringValue ?? "error" } else { "the server is unreachable" }
                    try await writer.write(event("error", ["message": .string(message)]))
                    break
                }
                job = update.json ?? .null
            }
            try await writer.finish(nil)
        })
    }

    private static func event(_ name: String, _ data: JSONValue) -> ByteBuffer {
        ByteBuffer(string: "event: \(name)\ndata: \(data.encodedString())\n\n")
    }
}
