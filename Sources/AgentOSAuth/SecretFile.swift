import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Files holding secrets (keys, tokens, credentials): mode 0600 before any byte is written.
public enum SecretFile {
    /// Writes `contents` to a new or truncated file readable only by its owner.
    public static func write(_ contents: String, to path: String) throws {
        try write(Data(contents.utf8), to: path)
    }

    /// Writes `data` to a file readable only by its owner, whole or not at all: it is written
    /// beside the file (0600 from the start) and renamed over it, so a reader never sees it
    /// empty or half written, and a crash leaves the old file or none.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SecretFileError(path: path, errno: errno) }
        var closed = false
        defer {
            if !closed { close(fd) }
            unlink(temporary)
        }
        // A leftover file keeps its old mode through O_CREAT: force it.
        fchmod(fd, 0o600)
        let bytes = [UInt8](data)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SecretFileError(path: path, errno: errno)
            }
            written += n
        }
        guard fsync(fd) == 0, close(fd) == 0 else {
            closed = true
            throw SecretFileError(path: path, errno: errno)
        }
        closed = true
        guard rename(temporary, path) == 0 else { throw SecretFileError(path: path, errno: errno) }
    }

    /// The file's contents without surrounding whitespace, or nil when it does not exist.
    public static func read(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A secret file could not be written.
public struct SecretFileError: Error, CustomStringConvertible {
    /// The file.
    public let path: String
    /// The system's reason.
    public let errno: Int32

    public var description: String { "cannot write \(path): \(String(cString: strerror(errno)))" }
}
