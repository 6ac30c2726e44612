/// A socket of the server could not bind its endpoint.
public struct BindError: Error, CustomStringConvertible {
    /// Which socket.
    let what: String
    /// The endpoint asked for.
    let endpoint: String
    /// What libzmq said.
    let underlying: any Error

    public var description: String { "cannot bind \(what) to \(endpoint): \(underlying)" }
}
