import CSpawn
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A sandbox's private directories on the host: `work` (the job's `/work`, with its code,
/// inputs and files) and `tmp` (its `/tmp`), owned by the sandbox's user and removed with
/// everything in them afterwards.
final class JobDirectory: Sendable {
    /// `<root>/<random id>`, mode 0700.
    let path: String
    private let removed = Atomic<Bool>(false)

    var work: String { path + "/work" }
    var tmp: String { path + "/tmp" }

    private init(path: String) {
        self.path = path
    }

    /// Makes a new one under `root`, handed to `owner` when given (a root worker's sandbox user).
    static func create(under root: String, owner: (uid: UInt32, gid: UInt32)?) throws -> JobDirectory {
        let directory = JobDirectory(path: root + "/" + UUID().uuidString.lowercased())
        for path in [directory.path, directory.work, directory.tmp] {
            guard mkdir(path, 0o700) == 0 else {
                let error = SandboxError.errno(errno, "creating \(path)")
                directory.remove()
                throw error
            }
            if let owner, chown(path, owner.uid, owner.gid) != 0 {
                let error = SandboxError.errno(errno, "handing \(path) to uid \(owner.uid)")
                directory.remove()
                throw error
            }
        }
        return directory
    }

    /// Writes a new file `name` (0644) into the work dir, never following a link or replacing
    /// what is there. No `fsync`: the work dir is thrown away with the sandbox, and Foundation's
    /// `Data.write` syncing to disk cost every job a flush.
    func writeWorkFile(_ name: String, _ bytes: some Collection<UInt8>) throws {
        let path = work + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SandboxError.errno(errno, "creating \(path)") }
        defer { close(fd) }
        let contents = Array(bytes)
        var written = 0
        while written < contents.count {
            let n = contents.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                guard errno == EINTR else { throw SandboxError.errno(errno, "writing \(path)") }
                continue
            }
            written += n
        }
    }

    /// Opens `path` as a descriptor for bubblewrap's `--bind-fd`, which binds what the
    /// descriptor names when bubblewrap starts. (bubblewrap still resolves that path, as the
    /// sandbox user: the directories above must be passable, see `SandboxLauncher`.)
    static func openForBinding(_ path: String) throws -> Int32 {
        let fd = agentos_open_path(path)
        guard fd >= 0 else { throw SandboxError.errno(-fd, "opening \(path)") }
        return fd
    }

    /// Removes it and everything in it, once; links are removed, never followed.
    func remove() {
        guard !removed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Self.removeTree(path)
    }

    /// Removes `path` like `rm -rf`, making directories writable first (a job may have made
    /// them read-only, which stops an unprivileged worker).
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            chmod(path, 0o700)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                removeTree(path + "/" + name)
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
