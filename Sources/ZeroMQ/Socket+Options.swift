import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Socket {
    /// How long (ms) unsent messages are kept after `close()`; 0 drops them, -1 (libzmq's default) waits forever and can block context termination.
    public func setLinger(_ ms: Int32) throws {
        try setInt32Option(ZMQ_LINGER, ms)
    }

    /// Maximum number of outbound messages queued per peer before sends block or drop (`ZMQ_SNDHWM`, default 1000).
    public func setSendHighWaterMark(_ n: Int32) throws {
        try setInt32Option(ZMQ_SNDHWM, n)
    }

    /// Maximum number of inbound messages queued per peer (`ZMQ_RCVHWM`, default 1000).
    public func setReceiveHighWaterMark(_ n: Int32) throws {
        try setInt32Option(ZMQ_RCVHWM, n)
    }

    /// Largest frame (bytes) accepted from the wire; a peer sending a larger one is disconnected (`ZMQ_MAXMSGSIZE`, -1 = unlimited).
    ///
    /// Applies to tcp and ipc only: inproc never goes through the wire decoder.
    public func setMaxMessageSize(_ bytes: Int64) throws {
        try setInt64Option(ZMQ_MAXMSGSIZE, bytes)
    }

    /// Makes a ROUTER throw `EHOSTUNREACH` instead of silently dropping messages to unknown peers (`ZMQ_ROUTER_MANDATORY`).
    public func setRouterMandatory(_ on: Bool) throws {
        try setInt32Option(ZMQ_ROUTER_MANDATORY, on ? 1 : 0)
    }

    /// Lets a new ROUTER peer take over a routing id already in use instead of being refused (`ZMQ_ROUTER_HANDOVER`).
    public func setRouterHandover(_ on: Bool) throws {
        try setInt32Option(ZMQ_ROUTER_HANDOVER, on ? 1 : 0)
    }

    /// The identity (1–255 bytes, not starting with 0) that a ROUTER peer sees for this socket; set before connecting (`ZMQ_ROUTING_ID`).
    public func setRoutingID(_ id: [UInt8]) throws {
        try setBytesOption(ZMQ_ROUTING_ID, id)
    }

    /// Queues messages only to completed connections, so sends block or fail while no peer is connected (`ZMQ_IMMEDIATE`).
    public func setImmediate(_ on: Bool) throws {
        try setInt32Option(ZMQ_IMMEDIATE, on ? 1 : 0)
    }

    /// How long (ms) a blocking send waits before failing with `EAGAIN` (`ZMQ_SNDTIMEO`, -1 = forever).
    public func setSendTimeout(_ ms: Int32) throws {
        try setInt32Option(ZMQ_SNDTIMEO, ms)
    }

    /// How long (ms) a blocking `receive()` waits before returning nil (`ZMQ_RCVTIMEO`, -1 = forever).
    public func setReceiveTimeout(_ ms: Int32) throws {
        try setInt32Option(ZMQ_RCVTIMEO, ms)
    }

    /// The initial delay (ms) before reconnecting and the cap for its exponential back-off (`ZMQ_RECONNECT_IVL` / `ZMQ_RECONNECT_IVL_MAX`; max 0 = no back-off).
    public func setReconnectInterval(_ ms: Int32, max: Int32) throws {
        try setInt32Option(ZMQ_RECONNECT_IVL, ms)
        try setInt32Option(ZMQ_RECONNECT_IVL_MAX, max)
    }

    /// ZMTP heartbeats: ping every `interval` ms, drop the connection after `timeout` ms of silence, and ask the peer to drop it after `ttl` ms (`ZMQ_HEARTBEAT_IVL` / `_TIMEOUT` / `_TTL`).
    ///
    /// libzmq stores the TTL in deciseconds, so it is rounded down to 100 ms and must not exceed 6_553_599 ms.
    public func setHeartbeat(interval ms: Int32, timeout: Int32, ttl: Int32) throws {
        try setInt32Option(ZMQ_HEARTBEAT_IVL, ms)
        try setInt32Option(ZMQ_HEARTBEAT_TIMEOUT, timeout)
        try setInt32Option(ZMQ_HEARTBEAT_TTL, ttl)
    }

    /// Subscribes a SUB socket to messages whose first frame starts with `prefix`; an empty prefix matches everything (`ZMQ_SUBSCRIBE`).
    public func setSubscribe(_ prefix: [UInt8]) throws {
        try setBytesOption(ZMQ_SUBSCRIBE, prefix)
    }

    /// Makes this socket a CURVE server with the given Z85 secret key (`ZMQ_CURVE_SERVER` = 1 + `ZMQ_CURVE_SECRETKEY`); set before binding.
    ///
    /// Without a ZAP handler on the context, libzmq accepts every client that knows the server's public key.
    public func setCurveServer(secretKey: String) throws {
        try setInt32Option(ZMQ_CURVE_SERVER, 1)
        try setCurveKeyOption(ZMQ_CURVE_SECRETKEY, secretKey)
    }

    /// Makes this socket a CURVE client that only talks to the server owning `serverPublicKey`; set before connecting (`ZMQ_CURVE_SERVERKEY` / `_PUBLICKEY` / `_SECRETKEY`).
    public func setCurveClient(serverPublicKey: String, keyPair: CurveKeyPair) throws {
        try setCurveKeyOption(ZMQ_CURVE_SERVERKEY, serverPublicKey)
        try setCurveKeyOption(ZMQ_CURVE_PUBLICKEY, keyPair.publicKey)
        try setCurveKeyOption(ZMQ_CURVE_SECRETKEY, keyPair.secretKey)
    }

    /// Makes this socket a CURVE client (`setCurveClient(serverPublicKey:keyPair:)`); set before connecting.
    public func setCurveClient(_ client: CurveClient) throws {
        try setCurveClient(serverPublicKey: client.serverPublicKey, keyPair: client.keyPair)
    }

    /// The ZAP authentication domain this socket's connections are checked against (`ZMQ_ZAP_DOMAIN`).
    public func setZAPDomain(_ domain: String) throws {
        try setBytesOption(ZMQ_ZAP_DOMAIN, Array(domain.utf8))
    }

    /// The endpoint most recently bound or connected, with wildcards resolved, e.g. "tcp://127.0.0.1:40123" after binding "tcp://127.0.0.1:*" (`ZMQ_LAST_ENDPOINT`).
    public var lastEndpoint: String {
        get throws {
            // Room for any tcp endpoint and for ipc paths up to the OS's socket path limit.
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            try check(zmq_getsockopt(openHandle(), ZMQ_LAST_ENDPOINT, &buffer, &size))
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// A file descriptor that becomes readable when the socket's events may have changed (`ZMQ_FD`).
    ///
    /// It is edge-triggered and signals both inbound and outbound changes, so after it fires check
    /// `isReadable` and receive until nil before waiting on it again; never read from or write to it.
    public var fileDescriptor: Int32 {
        get throws {
            try int32Option(ZMQ_FD)
        }
    }

    /// Whether at least one whole message can be received without blocking (`ZMQ_EVENTS` has `ZMQ_POLLIN`).
    public var isReadable: Bool {
        get throws {
            try int32Option(ZMQ_EVENTS) & ZMQ_POLLIN != 0
        }
    }

    /// Sets an `int`-valued option.
    private func setInt32Option(_ name: Int32, _ value: Int32) throws {
        var value = value
        try check(zmq_setsockopt(openHandle(), name, &value, MemoryLayout<Int32>.size))
    }

    /// Sets an `int64_t`-valued option.
    private func setInt64Option(_ name: Int32, _ value: Int64) throws {
        var value = value
        try check(zmq_setsockopt(openHandle(), name, &value, MemoryLayout<Int64>.size))
    }

    /// Sets a binary or string option from raw bytes (no terminator).
    private func setBytesOption(_ name: Int32, _ bytes: [UInt8]) throws {
        let handle = try openHandle()
        try bytes.withUnsafeBytes { buffer in
            try check(zmq_setsockopt(handle, name, buffer.baseAddress, buffer.count))
        }
    }

    /// Sets a CURVE key given as 40 Z85 characters; libzmq wants it NUL-terminated with the terminator counted.
    private func setCurveKeyOption(_ name: Int32, _ curveKey: String) throws {
        guard curveKey.utf8.count == CurveKeyPair.z85KeyLength else { throw ZMQError(code: EINVAL) }
        let handle = try openHandle()
        try curveKey.withCString { key in
            try check(zmq_setsockopt(handle, name, key, CurveKeyPair.z85KeyLength + 1))
        }
    }

    /// Reads an `int`-valued option.
    private func int32Option(_ name: Int32) throws -> Int32 {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try check(zmq_getsockopt(openHandle(), name, &value, &size))
        return value
    }
}
