import Hummingbird
import NIOCore

extension Request {
    /// The body, at most `limit` bytes. Throws an `ErrorAnswer` for the client: `413
    /// body_too_large` with `tooLarge` past the limit (answered before reading when
    /// `Content-Length` says so, and `ConnectionGuard` then drops the body as it arrives), or
    /// the answer to a body that is not HTTP (`400`) or stopped arriving (`408`).
    public func readBody(upTo limit: Int, tooLarge: String) async throws -> ByteBuffer {
        let tooLargeAnswer = ErrorAnswer(status: .contentTooLarge, code: "body_too_large", message: tooLarge)
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw tooLargeAnswer
        }
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLargeAnswer
        } catch {
            throw ErrorAnswer.forReadError(error) ?? error
        }
    }
}
