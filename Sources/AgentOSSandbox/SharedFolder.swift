import AgentOSWire
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A folder of the host a job may see: bound at `/mnt/<name>` in its sandbox, read-only
/// unless `writable`. Only a desktop shares folders (`desktop run --dir`, `desktop attach
/// --dir`); a cloud worker never does.
public struct SharedFolder: Sendable, Equatable {
    /// Where the job sees it: `/mnt/<name>`.
    public var name: String
    /// The folder on the host, absolute and without symbolic links.
    public var path: String
    /// Whether the job may change what is in it.
    public var writable: Bool
    /// The directory it was when shared (device and inode), so that one moved or replaced
    /// since (by a link in a directory above it, say) is not bound in its place.
    public var identity: FileIdentity?

    /// A directory on the host, as `stat` tells it apart.
    public struct FileIdentity: Sendable, Equatable {
        public var device: UInt64
        public var inode: UInt64

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    /// Where a job sees its shared folders.
    public static let mountRoot = "/mnt"

    /// The path of this folder inside a sandbox.
    public var sandboxPath: String { Self.mountRoot + "/" + name }

    /// A folder as given; `name` must be a valid folder name (`isValidName`).
    public init(name: String, path: String, writable: Bool, identity: FileIdentity? = nil) {
        self.name = name
        self.path = path
        self.writable = writable
        self.identity = identity
    }

    /// A folder from the command line's `PATH[:rw|:ro]`: an existing directory, resolved to
    /// its real path, named after its last component. Throws a message fit for the user.
    public init(
        argument: String, relativeTo base: String = FileManager.default.currentDirectoryPath,
        home: String = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
    ) throws {
        var given = argument
        var writable = false
        if given.hasSuffix(":rw") {
            writable = true
            given.removeLast(3)
        } else if given.hasSuffix(":ro") {
            given.removeLast(3)
        }
        guard !given.isEmpty else { throw SandboxError("--dir needs a folder: PATH, PATH:ro or PATH:rw") }
        // `~/…` as a shell would have it (a topology file's dirs reach here unexpanded).
        if given == "~" || given.hasPrefix("~/") { given = home + given.dropFirst() }
        let absolute = given.hasPrefix("/") ? given : base + "/" + given
        let resolved = URL(fileURLWithPath: absolute).standardizedFileURL.resolvingSymlinksInPath().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory) else {
            throw SandboxError("--dir \(argument): no folder at \(resolved)")
        }
        guard isDirectory.boolValue else { throw SandboxError("--dir \(argument): \(resolved) is a file, not a folder") }
        guard resolved != "/" else { throw SandboxError("--dir \(argument): the whole file system cannot be shared") }
        let name = (resolved as NSString).lastPathComponent
        guard Self.isValidName(name) else {
            throw SandboxError("--dir \(argument): the folder's name \(name) cannot be a mount name (\(FolderName.rule))")
        }
        var info = stat()
        guard stat(resolved, &info) == 0 else { throw SandboxError("--dir \(argument): \(String(cString: strerror(errno)))") }
        self.init(name: name, path: resolved, writable: writable, identity: FileIdentity(info))
    }

    /// Whether this folder is `other`, is inside it, or holds it.
    public func overlaps(_ other: String) -> Bool {
        let mine = path.hasSuffix("/") ? path : path + "/"
        let theirs = other.hasSuffix("/") ? other : other + "/"
        return mine.hasPrefix(theirs) || theirs.hasPrefix(mine)
    }

    /// Checks a set of folders shared together: none overlaps `protected` (the desktop's own
    /// credentials and state, which no job may see), and none lies inside another shared
    /// writable, where a job could swap what it is. Throws what stands in the way.
    public static func checkSafe(_ folders: [SharedFolder], protected: [(what: String, path: String)]) throws {
        for folder in folders {
            for (what, path) in protected where folder.overlaps(URL(fileURLWithPath: path).resolvingSymlinksInPath().path) {
                throw SandboxError("--dir \(folder.path): it is, holds or lies in \(what) (\(path)), which no job may see: share a folder beside it")
            }
            for other in folders where other.writable && other.path != folder.path && folder.overlaps(other.path) {
                throw SandboxError("--dir \(folder.path) and --dir \(other.path):rw overlap: a job could change the one through the other; share folders apart")
            }
        }
    }

    /// Why a sandbox running as `uid`/`gid` on the host could not use this folder (reach it,
    /// list and read it, and write it when `writable`), judged by the mode bits of the folder
    /// and of every directory above it; nil when it can.
    public func accessProblem(uid: UInt32, gid: UInt32) -> String? {
        func allows(_ info: stat, _ user: mode_t, _ group: mode_t, _ other: mode_t) -> Bool {
            if uid == 0 { return true }
            if info.st_uid == uid { return info.st_mode & user != 0 }
            if info.st_gid == gid { return info.st_mode & group != 0 }
            return info.st_mode & other != 0
        }
        var current = ""
        let components = path.split(separator: "/")
        for (index, component) in components.enumerated() {
            current += "/" + component
            var info = stat()
            guard stat(current, &info) == 0 else { return "\(current): \(String(cString: strerror(errno)))" }
            let mode = String(info.st_mode & 0o7777, radix: 8)
            guard allows(info, S_IXUSR, S_IXGRP, S_IXOTH) else {
                return "\(current) (mode \(mode), owner uid \(info.st_uid)) does not let uid \(uid) through"
            }
            guard index == components.count - 1 else { continue }
            guard allows(info, S_IRUSR, S_IRGRP, S_IROTH) else {
                return "\(current) (mode \(mode), owner uid \(info.st_uid)) cannot be listed by uid \(uid)"
            }
            if writable, !allows(info, S_IWUSR, S_IWGRP, S_IWOTH) {
                return "\(current) (mode \(mode), owner uid \(info.st_uid)) cannot be written by uid \(uid)"
            }
        }
        return nil
    }

    /// Whether `name` can be the last part of `/mnt/<name>` (`FolderName.isValid`).
    public static func isValidName(_ name: String) -> Bool {
        FolderName.isValid(name)
    }

    /// Checks a set of folders shared together: names are unique. Throws which repeats.
    public static func checkUnique(_ folders: [SharedFolder]) throws {
        var seen: [String: String] = [:]
        for folder in folders {
            if let other = seen[folder.name] {
                throw SandboxError("--dir \(other) and --dir \(folder.path) would both be /mnt/\(folder.name): share folders with different names")
            }
            seen[folder.name] = folder.path
        }
    }
}
