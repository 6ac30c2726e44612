import CZeroMQ

/// Library-wide facts about the linked libzmq.
public enum ZeroMQ {
    /// The version of the libzmq library linked at run time (which may differ from the headers built against).
    public static var version: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }

    /// Whether libzmq was built with a capability such as "curve", "ipc" or "draft".
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) == 1
    }
}
