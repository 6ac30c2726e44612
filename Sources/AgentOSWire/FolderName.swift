/// The name of a host folder a desktop shares with its user's private jobs: the job sees the
/// folder at `/mnt/<name>` and asks for it by that name (a submit's `dirs`, a `JOB`'s `dirs`).
/// One rule for the desktop that shares, the server that checks a submit and the worker that
/// binds.
public enum FolderName {
    /// The most folders one job may name.
    public static let maxPerJob = 16
    /// The most folders one desktop may share.
    public static let maxShared = 64
    /// What a valid name is, for messages.
    public static let rule = "1-64 letters, digits, '.', '_' or '-', and not '.' or '..'"

    /// Whether `name` can be the last part of `/mnt/<name>`: 1-64 of letters, digits, `.`,
    /// `_`, `-`, and neither `.` nor `..`.
    public static func isValid(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }
}
