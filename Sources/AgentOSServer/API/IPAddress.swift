import AgentOSWire
import Glibc

/// Checks text is an IP address as the gateway reports a client's.
enum IPAddress {
    /// Whether `text` is an IPv4 address in dotted form or an IPv6 address, written as the
    /// system writes it back (so nothing rides after an embedded NUL, and one address has one
    /// spelling).
    static func isValid(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 45, !text.containsNUL else { return false }
        var buffer = [UInt8](repeating: 0, count: 16)
        var written = [CChar](repeating: 0, count: 64)
        for family in [AF_INET, AF_INET6] where inet_pton(family, text, &buffer) == 1 {
            guard inet_ntop(family, buffer, &written, socklen_t(written.count)) != nil else { return false }
            return String(decoding: written.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) == text
        }
        return false
    }
}
