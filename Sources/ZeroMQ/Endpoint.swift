/// What can be told from an endpoint's text alone.
public enum Endpoint {
    /// Whether traffic to or from `endpoint` stays on this machine: `inproc://`, `ipc://`, or
    /// `tcp://` on a loopback address (127.0.0.0/8, ::1, `localhost`). A wildcard (`*`,
    /// `0.0.0.0`, `[::]`) or an interface name is not: it listens on every address or on a network.
    public static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("inproc://") || endpoint.hasPrefix("ipc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = endpoint.dropFirst("tcp://".count)
        // A connect may name its source: "tcp://SOURCE;HOST:PORT".
        if let semicolon = host.lastIndex(of: ";") { host = host[host.index(after: semicolon)...] }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let address = host[host.index(after: host.startIndex)..<close].lowercased()
            return address == "::1" || address == "0:0:0:0:0:0:0:1" || address.hasPrefix("::ffff:127.")
        }
        guard let colon = host.lastIndex(of: ":") else { return false }
        let name = host[..<colon].lowercased()
        if name == "localhost" { return true }
        let octets = name.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// The port of a tcp endpoint bound to every interface (`tcp://*:P`, `tcp://0.0.0.0:P`,
    /// `tcp://[::]:P`), or nil for any other endpoint.
    public static func wildcardPort(_ endpoint: String) -> Substring? {
        for wildcard in ["tcp://*:", "tcp://0.0.0.0:", "tcp://[::]:"] where endpoint.hasPrefix(wildcard) {
            return endpoint.dropFirst(wildcard.count)
        }
        return nil
    }

    /// `endpoint` reached at `host` when it is bound to every interface; else `endpoint` as it is.
    public static func reaching(_ endpoint: String, at host: String) -> String {
        guard let port = wildcardPort(endpoint) else { return endpoint }
        return host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
    }
}
