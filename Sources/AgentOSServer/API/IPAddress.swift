import Glibc

/// Checks text is an IP address as the gateway reports a client's.
enum IPAddress {
    /// Whether `text` is an IPv4 address in dotted form or an IPv6 address.
    static func isValid(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 45 else { return false }
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
    }
}
