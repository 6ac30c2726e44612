import ZeroMQ

extension Context {
    /// A socket that drops unsent messages on close, so that tests never wait on context termination.
    func lingerlessSocket(_ type: SocketType) throws -> Socket {
        let socket = try makeSocket(type)
        try socket.setLinger(0)
        return socket
    }
}

extension String {
    /// The string's UTF-8 bytes, for building frames.
    var frame: [UInt8] { Array(utf8) }
}
