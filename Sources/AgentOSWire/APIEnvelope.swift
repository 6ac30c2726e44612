import Foundation

/// The gateway ↔ server API socket: `[tag, header, body]` in both directions. The header is a
/// small JSON object; the body travels as the bytes it is (a request's JSON or upload, a
/// response's JSON or download), so neither side re-encodes what it only passes on.
public enum API {
    /// First frame of every API message.
    public static let protocolTag = "AOS-API/2"
}

/// A request a gateway forwards to the server.
public struct APIRequest: Sendable {
    /// Correlates the response; unique per gateway connection.
    public var id: String
    /// What to do.
    public var operation: APIOperation
    /// The caller's bearer token, if any.
    public var token: String?
    /// Path and query parameters.
    public var params: [String: String]
    /// The body as the client sent it: JSON for a JSON route, the bytes of an upload; empty when none.
    public var body: Data
    /// The body's content type (uploads).
    public var contentType: String?
    /// The client's address as the gateway saw it (rate limits, audit).
    public var client: String?

    /// A complete request.
    public init(
        id: String, operation: APIOperation, token: String?, params: [String: String] = [:], body: Data = Data(),
        contentType: String? = nil, client: String? = nil
    ) {
        self.id = id
        self.operation = operation
        self.token = token
        self.params = params
        self.body = body
        self.contentType = contentType
        self.client = client
    }

    private struct Header: Codable {
        var id: String
        var operation: APIOperation
        var token: String?
        var params: [String: String]
        var contentType: String?
        var client: String?

        enum CodingKeys: String, CodingKey {
            case id, token, params, client
            case operation = "op"
            case contentType = "content_type"
        }
    }

    /// Encodes for the wire: `[tag, header, body]`.
    public var frames: [[UInt8]] {
        let header = Header(id: id, operation: operation, token: token, params: params, contentType: contentType, client: client)
        return [Array(API.protocolTag.utf8), Array((try? API.encoder.encode(header)) ?? Data()), Array(body)]
    }

    /// Decodes `[tag, header, body]`.
    public init(frames: ArraySlice<[UInt8]>) throws {
        let (header, body) = try API.split(Header.self, frames: frames)
        self.init(
            id: header.id, operation: header.operation, token: header.token, params: header.params, body: body,
            contentType: header.contentType, client: header.client)
    }
}

/// The server's answer: an HTTP status, headers and a body the gateway returns as they are.
public struct APIResponse: Sendable {
    /// Echo of the request id.
    public var id: String
    /// HTTP status code.
    public var status: Int
    /// HTTP headers for the client: `Content-Type` always (but for 204), `Retry-After`, a download's `ETag`, …
    public var headers: [String: String]
    /// The body: JSON, or a download's bytes; empty for 204.
    public var body: Data

    /// A complete response.
    public init(id: String, status: Int, headers: [String: String] = [:], body: Data = Data()) {
        self.id = id
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body parsed as JSON, or nil when it is not JSON.
    public var json: JSONValue? { try? JSONValue.parse(body) }

    private struct Header: Codable {
        var id: String
        var status: Int
        var headers: [String: String]
    }

    /// Encodes for the wire: `[tag, header, body]`.
    public var frames: [[UInt8]] {
        let header = Header(id: id, status: status, headers: headers)
        return [Array(API.protocolTag.utf8), Array((try? API.encoder.encode(header)) ?? Data()), Array(body)]
    }

    /// Decodes `[tag, header, body]`.
    public init(frames: ArraySlice<[UInt8]>) throws {
        let (header, body) = try API.split(Header.self, frames: frames)
        self.init(id: header.id, status: header.status, headers: header.headers, body: body)
    }
}

extension API {
    /// Largest API message either side accepts: a response carries a whole job (inputs,
    /// result and both output streams, up to 4 MiB each) with room for JSON escaping, and an
    /// upload or download a whole file.
    public static let maxMessageBytes = 64 << 20
    /// Largest request the server accepts: the largest upload (40 MiB, the most
    /// `--max-upload-mb` allows) or JSON body (`--max-body`, at most 40 MiB too) with its header.
    /// libzmq buffers a message whole before the server sees it, so this bounds what any peer
    /// of the API socket can make it hold per connection.
    public static let maxRequestBytes = 41 << 20

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    static func split<Header: Decodable>(_ type: Header.Type, frames: ArraySlice<[UInt8]>) throws -> (Header, Data) {
        guard frames.count == 3, frames[frames.startIndex].elementsEqual(protocolTag.utf8) else {
            throw BusDecodingError(description: "expected [\(protocolTag), header, body]")
        }
        let header = try JSONDecoder().decode(Header.self, from: Data(frames[frames.startIndex + 1]))
        return (header, Data(frames[frames.startIndex + 2]))
    }
}
