import AgentOSWire
import Foundation

extension APIResponse {
    /// An answer with a typed JSON body (`Content-Type: application/json`, plus `headers`).
    public static func encoding(id: String, status: Int, _ body: some Encodable, headers: [String: String] = [:]) -> APIResponse {
        var all = headers
        all["Content-Type"] = "application/json"
        return APIResponse(id: id, status: status, headers: all, body: (try? APICoding.encode(body)) ?? Data())
    }

    /// The contract's error answer: `{"error": {"code", "message"}}`.
    public static func error(id: String, status: Int, code: String, message: String, path: String? = nil, headers: [String: String] = [:]) -> APIResponse {
        .encoding(id: id, status: status, Schemas.ErrorBody(code: code, message: message, path: path), headers: headers)
    }
}
