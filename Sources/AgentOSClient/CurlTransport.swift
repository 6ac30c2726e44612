import CCurl
import Foundation

/// HTTP over libcurl's easy interface, each request on its own thread: a long poll
/// (`?wait=`) then costs a sleeping thread and nothing else.
enum CurlTransport {
    /// Sends one request; returns the status and body of whatever answer came back.
    static func perform(method: String, url: String, headers: [String], body: Data?, timeout: TimeInterval) async throws -> (Int, Data) {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try performBlocking(method: method, url: url, headers: headers, body: body, timeout: timeout) })
            }
            thread.name = "agentos-http"
            thread.start()
        }
    }

    private static func performBlocking(method: String, url: String, headers: [String], body: Data?, timeout: TimeInterval) throws -> (Int, Data) {
        var response = agentos_http_response()
        defer { agentos_http_response_free(&response) }
        let headerPointers = headers.map { UnsafePointer(strdup($0)) }
        defer { headerPointers.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        let milliseconds = Int(max(1, timeout * 1000))
        let rc: Int32 = headerPointers.withUnsafeBufferPointer { headerBuffer in
            if let body {
                return body.withUnsafeBytes { bytes in
                    agentos_http_request(
                        method, url, headerBuffer.baseAddress, headers.count, bytes.baseAddress?.assumingMemoryBound(to: CChar.self),
                        body.count, milliseconds, &response)
                }
            }
            return agentos_http_request(method, url, headerBuffer.baseAddress, headers.count, nil, 0, milliseconds, &response)
        }
        guard rc == 0 else {
            let reason = withUnsafeBytes(of: response.error) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw ClientError.unreachable("\(url): \(reason)")
        }
        let data = response.body.map { Data(bytes: $0, count: response.body_length) } ?? Data()
        return (Int(response.status), data)
    }
}
