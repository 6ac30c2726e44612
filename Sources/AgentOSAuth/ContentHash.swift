import Crypto
import Foundation

/// Hex SHA-256, the name of file blobs and the identity of skill content.
public enum ContentHash {
    /// Lowercase hex SHA-256 of `data`.
    public static func sha256Hex(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// A SHA-256 fed piece by piece, for bytes that arrive in chunks.
    public struct Hasher: Sendable {
        private var state = SHA256()

        /// A hasher that has seen nothing yet.
        public init() {}

        /// Feeds the next bytes.
        public mutating func update(_ data: Data) { state.update(data: data) }

        /// Lowercase hex SHA-256 of everything fed.
        public func hex() -> String { state.finalize().map { String(format: "%02x", $0) }.joined() }
    }

    /// Whether `text` looks like a hex SHA-256 (and so is safe as a file name).
    public static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
