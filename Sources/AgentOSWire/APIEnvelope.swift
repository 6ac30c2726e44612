import Foundation

/// The gateway ↔ server API socket: one request frame in, one response frame out.
public enum API {
    /// First frame of every API message.
    public static let protocolTag = "AOS-API/1"
}

/// A request a gateway forwards to the server.
public struct APIRequest: Codable, Sendable {
    /// Correlates the response; unique per gateway connection.
    public var id: String
    /// What to do.
    public var operation: APIOperation
    /// The caller's bearer token, if any.
    public var token: String?
    /// Path and query parameters.
    public var params: [String: String]
    /// The JSON body, if any.
    public var body: JSONValue?
    /// A raw body (file upload), base64 on the wire.
    public var raw: Data?
    /// The raw body's content type.
    public var contentType: String?
    /// The client's address as the gateway saw it (rate limits, audit).
    public var client: String?

    /// A complete request.
    public init(
        id: String, operation: APIOperation, token: String?, params: [String: String] = [:], body: JSONValue? = nil,
        raw: Data? = nil, contentType: String? = nil, client: String? = nil
    ) {
        self.id = id
        self.operation = operation
        self.token = token
        self.params = params
        self.body = body
        self.raw = raw
        self.contentType = contentType
        self.client = client
    }

    enum CodingKeys: String, CodingKey {
        case id, token, params, body, raw, client
        case operation = "op"
        case contentType = "content_type"
    }
}

/// The server's answer: an HTTP status and a JSON body the gateway returns as is.
public struct APIResponse: Codable, Sendable {
    /// Echo of the request id.
    public var id: String
    /// HTTP status code.
    public var status: Int
    /// Response body.
    public var body: JSONValue
    /// Raw bytes returned instead of `body` (file download).
    public var raw: Data?
    /// Extra response headers (`Retry-After`, `Content-Type` of raw bytes, …).
    public var headers: [String: String]?

    /// A complete response.
    public init(id: String, status: Int, body: JSONValue, raw: Data? = nil, headers: [String: String]? = nil) {
        self.id = id
        self.status = status
        self.body = body
        self.raw = raw
        self.headers = headers
    }

    /// The contract's error shape: `{"error": {"code", "message"}}`.
    public static func error(id: String, status: Int, code: String, message: String) -> APIResponse {
        APIResponse(id: id, status: status, body: ["error": ["code": .string(code), "message": .string(message)]])
    }
}

extension APIRequest {
    /// Encodes for the wire: `[tag, json]`.
    public var frames: [[UInt8]] {
        [Array(API.protocolTag.utf8), Array((try? API.encoder.encode(self)) ?? Data())]
    }

    /// Decodes `[tag, json]`.
    public init(frames: ArraySlice<[UInt8]>) throws {
        try self = API.decode(APIRequest.self, frames: frames)
    }
}

extension APIResponse {
    /// Encodes for the wire: `[tag, json]`.
    public var frames: [[UInt8]] {
        [Array(API.protocolTag.utf8), Array((try? API.encoder.encode(self)) ?? Data())]
    }

    /// Decodes `[tag, json]`.
    public init(frames: ArraySlice<[UInt8]>) throws {
        try self = API.decode(APIResponse.self, frames: frames)
    }
}

extension API {
    /// Largest API message either side accepts: a response carries a whole job (inputs,
    /// result and both output streams, up to 4 MiB each) with room for JSON escaping.
    public static let maxMessageBytes = 64 << 20

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    static func decode<T: Decodable>(_ type: T.Type, frames: ArraySlice<[UInt8]>) throws -> T {
        guard frames.count == 2, frames[frames.startIndex].elementsEqual(protocolTag.utf8) else {
            throw BusDecodingError(description: "expected [\(protocolTag), json]")
        }
        return try JSONDecoder().decode(T.self, from: Data(frames[frames.startIndex + 1]))
    }
}
