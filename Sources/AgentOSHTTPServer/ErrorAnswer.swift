import AgentOSAPI
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// An error answered with the contract's body, `{"error": {"code", "message"}}`: what the
/// connection guard writes itself (below Hummingbird), and what the servers' handlers answer
/// for a request that could not be read. As an error, it is what a handler reading a body gets
/// when the guard has answered for it (a stalled body, `408`).
public struct ErrorAnswer: Error, Sendable, Equatable {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// The contract's snake_case code.
    public var code: String
    /// For people.
    public var message: String
    /// Seconds for `Retry-After`, when trying again later can help.
    public var retryAfterSeconds: Int?

    /// An answer with these parts.
    public init(status: HTTPResponse.Status, code: String, message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// The JSON body.
    var body: Data {
        (try? APICoding.encode(Schemas.ErrorBody(code: code, message: message))) ?? Data("{}".utf8)
    }

    /// The answer as a Hummingbird response, for a handler to return.
    public var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The whole HTTP/1.1 response as bytes, closing the connection: the guard writes these
    /// straight to the socket when no request is there to answer through Hummingbird.
    func bytes() -> ByteBuffer {
        let body = body
        var head = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
        head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        if let retryAfterSeconds { head += "Retry-After: \(retryAfterSeconds)\r\n" }
        head += "\r\n"
        var buffer = ByteBuffer(string: head)
        buffer.writeBytes(body)
        return buffer
    }

    /// The answer to an error met while reading a request (its head or its body): `431` for a
    /// head over the limits, `400` for anything else that is not HTTP/1.1, the guard's own
    /// answer when it has answered already. Nil when the error is not about what the client sent.
    public static func forReadError(_ error: any Error) -> ErrorAnswer? {
        switch error {
        case let answer as ErrorAnswer:
            return answer
        case HTTPParserError.headerOverflow:
            return ErrorAnswer(
                status: .requestHeaderFieldsTooLarge, code: "headers_too_large",
                message: "the request line and headers are larger, or more, than this server accepts")
        case HTTPParserError.invalidEOFState:
            return invalid("the connection ended before the whole request arrived")
        case HTTPParserError.unknown:
            return invalid("its framing is not valid (Content-Length, Transfer-Encoding or chunks)")
        case let error as HTTPParserError:
            return invalid("\(error)")
        case ByteToMessageDecoderError.dataReceivedInErrorState(let underlying, _):
            return forReadError(underlying)
        case let error as HTTP1TypeConversionError:
            return invalid("\(error)")
        default:
            return nil
        }
    }

    private static func invalid(_ reason: String) -> ErrorAnswer {
        ErrorAnswer(status: .badRequest, code: "invalid_request", message: "the request is not valid HTTP/1.1: \(reason)")
    }
}
