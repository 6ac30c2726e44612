import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ZeroMQ's Z85 text encoding of binary data (ZMQ RFC 32), as used for CURVE keys.
public enum Z85 {
    /// The 85 characters of the Z85 alphabet, in digit order.
    private static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// Encodes bytes whose count is a multiple of 4 into 5 characters per 4 bytes; throws `EINVAL` otherwise.
    public static func encode(_ bytes: [UInt8]) throws -> String {
        guard bytes.count % 4 == 0 else { throw ZMQError(code: EINVAL) }
        guard !bytes.isEmpty else { return "" }
        var text = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        guard zmq_z85_encode(&text, bytes, bytes.count) != nil else { throw ZMQError.last() }
        return String(decoding: text.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes text whose length is a multiple of 5 into 4 bytes per 5 characters; throws `EINVAL` on a bad length, a character outside the alphabet, or a group above 2^32 - 1.
    public static func decode(_ text: String) throws -> [UInt8] {
        let characters = Array(text.utf8)
        // Checked here because libzmq reads a C string: an embedded NUL would silently truncate it.
        guard characters.count % 5 == 0, characters.allSatisfy(alphabet.contains) else {
            throw ZMQError(code: EINVAL)
        }
        guard !characters.isEmpty else { return [] }
        var bytes = [UInt8](repeating: 0, count: characters.count * 4 / 5)
        guard zmq_z85_decode(&bytes, text) != nil else { throw ZMQError.last() }
        return bytes
    }
}
