import AgentOSAuth
import Foundation

/// The opaque `cursor` of job listings: where the previous page ended.
enum JobCursor {
    static func encode(createdAt: Date, id: String) -> String {
        SecretToken.base64URL(Data("\(Int64((createdAt.timeIntervalSince1970 * 1000).rounded()))|\(id)".utf8))
    }

    static func decode(_ text: String) throws -> (createdAt: Date, id: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let plain = String(data: data, encoding: .utf8),
            let bar = plain.firstIndex(of: "|"), let millis = Int64(plain[..<bar])
        else { throw APIError.invalid("cursor is not one this server gave out") }
        return (Date(timeIntervalSince1970: Double(millis) / 1000), String(plain[plain.index(after: bar)...]))
    }
}
