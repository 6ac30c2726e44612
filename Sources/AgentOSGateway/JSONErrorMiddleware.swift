import AgentOSAPI
import AgentOSHTTPServer
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Turns every error into the contract's `{"error": {"code", "message"}}` with the right status.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            return Self.response(status: error.status, message: error.body ?? Self.defaultMessage(error.status))
        } catch let error as any HTTPResponseError {
            return Self.response(status: error.status, message: Self.defaultMessage(error.status))
        } catch {
            // The body could not be read (too large, not HTTP, cut short, stalled): the client's fault.
            if let answer = ErrorAnswer.forReadError(error) { return answer.response }
            context.logger.error("unhandled gateway error", metadata: ["error": "\(error)"])
            return Self.response(status: .internalServerError, message: "internal error")
        }
    }

    static func response(status: HTTPResponse.Status, message: String) -> Response {
        let data = (try? APICoding.encode(Schemas.ErrorBody(code: code(for: status), message: message))) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "invalid_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "body_too_large"
        case 415: "unsupported_media_type"
        case 429: "rate_limited"
        case 503: "unavailable"
        default: "error"
        }
    }

    static func defaultMessage(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: "no such route"
        case 413: "the request body is too large"
        default: status.reasonPhrase
        }
    }
}
