import AgentOSAuth
import Foundation

/// The opaque `cursor` of job listings: the id of the last job of the previous page.
enum JobCursor {
    static func encode(_ lastJobID: String) -> String {
        SecretToken.base64URL(Data("job:\(lastJobID)".utf8))
    }

    static func decode(_ text: String) throws -> String {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let plain = String(data: data, encoding: .utf8), plain.hasPrefix("job:")
        else { throw APIError.invalid("cursor is not one this server gave out") }
        return String(plain.dropFirst(4))
    }
}
