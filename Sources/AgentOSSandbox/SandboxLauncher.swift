import CSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a sandbox gets beyond the fixed layout.
struct SandboxProfile: Sendable, Equatable {
    /// A virtual environment (host path), read-only at `/venv`, whose interpreter runs the job.
    var venv: String?
    /// The host's network instead of an empty network namespace.
    var network = false
    /// Host folders bound at `/mnt/<name>`: only a cold sandbox has them.
    var folders: [SharedFolder] = []

    static let plain = SandboxProfile()
}

/// Starts sandboxes: the bubblewrap command line (or, unsandboxed, the plain interpreter),
/// the spawn's user, namespaces and limits, and each sandbox's private directories.
///
/// A bubblewrap sandbox sees: `/usr` and the `/bin`, `/lib`… links read-only; a few files of
/// `/etc` (dynamic linker, certificates, time zone, name service; never `shadow` or
/// `passwd`, for which it gets its own); a fresh `/proc` of its own PID namespace; a minimal
/// `/dev` with a small `/dev/shm`; its work dir at `/work` and its own `/tmp`; `/venv` when
/// it has one. Nothing else of the host exists in it, and its root is read-only. What runs in
/// it runs under the system-call filter (`SeccompPolicy`).
struct SandboxLauncher: Sendable {
    /// The uid and gid a job has inside its sandbox.
    static let insideUser = 1000
    /// Files of the host's `/etc` a sandbox sees, read-only, when they exist.
    static let etcEntries = [
        "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "ssl/certs", "ssl/openssl.cnf", "ca-certificates",
        "alternatives", "mime.types", "nsswitch.conf", "host.conf", "hosts", "resolv.conf", "gai.conf", "protocols",
        "services",
    ]

    let configuration: SandboxConfiguration
    /// Where sandboxes' private directories are made.
    let jobsRoot: String
    /// The sandbox's `/etc/passwd` and `/etc/group`.
    let passwdFile: String
    let groupFile: String
    /// The system part of every sandbox's bubblewrap command line (`/usr`, the `/bin`… links,
    /// the `/etc` entries that exist), read from the host once.
    let systemBinds: [String]
    /// The same under a fork server's `forkedRoot`.
    let forkedRootBinds: [String]
    /// The system-call filter of every sandbox, compiled once (empty when unsandboxed).
    let seccompProgram: [UInt8]

    var isSandboxed: Bool { configuration.isolation != .none }

    /// The host uid/gid sandboxes run as: the configured sandbox user under a root worker,
    /// the worker's own otherwise.
    var hostUser: (uid: UInt32, gid: UInt32)? { isSandboxed && geteuid() == 0 ? configuration.sandboxUser : nil }

    init(configuration: SandboxConfiguration) throws {
        self.configuration = configuration
        let state = configuration.stateDirectory
        // Worker processes on one machine may share the state dir (and its environments):
        // each keeps its sandboxes' directories under its own pid.
        let allJobs = state + "/jobs"
        jobsRoot = allJobs + "/\(getpid())"
        let runtime = state + "/runtime/\(getpid())"
        passwdFile = runtime + "/passwd"
        groupFile = runtime + "/group"
        let fileManager = FileManager.default
        systemBinds = Self.systemBinds()
        forkedRootBinds = Self.systemBinds(under: Self.forkedRoot)
        // Compiled before anything is made: an engine that cannot filter runs no sandbox.
        seccompProgram = configuration.isolation == .none ? [] : try SeccompPolicy.program()
        // Checked before anything is made: what exists above the state dir must let the
        // sandbox user through (what is made below is 0711).
        if configuration.isolation != .none, geteuid() == 0 {
            try Self.checkReachable(state, by: configuration.sandboxUser.uid)
        }
        // bubblewrap, running as the sandbox user, finds what it binds by path: the sandbox
        // user may pass through (not list) these directories. What is in them is its own
        // (0700 work dirs) or not secret (virtualenvs).
        for directory in [state, allJobs, state + "/runtime"] {
            try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
            chmod(directory, 0o711)
        }
        // What processes that were killed outright left behind.
        for parent in [allJobs, state + "/runtime"] {
            for name in (try? fileManager.contentsOfDirectory(atPath: parent)) ?? [] {
                if let pid = pid_t(name), pid != getpid(), kill(pid, 0) == 0 || errno == EPERM { continue }
                JobDirectory.removeTree(parent + "/" + name)
            }
        }
        for directory in [jobsRoot, runtime] {
            guard mkdir(directory, 0o711) == 0 else { throw SandboxError.errno(errno, "creating \(directory)") }
            chmod(directory, 0o711)
        }
        let inside = Self.insideUser
        try Data("root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:\(inside):\(inside):AgentOS sandbox:/work:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n".utf8)
            .write(to: URL(fileURLWithPath: passwdFile))
        try Data("root:x:0:\nsandbox:x:\(inside):\nnogroup:x:65534:\n".utf8).write(to: URL(fileURLWithPath: groupFile))
        for file in [passwdFile, groupFile] { chmod(file, 0o644) }
    }

    /// Fails unless `uid` may pass through every existing directory above and including `path`.
    static func checkReachable(_ path: String, by uid: UInt32) throws {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            var info = stat()
            guard stat(current, &info) == 0 else {
                if errno == ENOENT { return }  // made below, 0711
                throw SandboxError.errno(errno, "checking \(current)")
            }
            let mode = info.st_mode
            let passable = info.st_uid == uid ? mode & S_IXUSR != 0 : mode & S_IXOTH != 0
            guard passable else {
                throw SandboxError("""
                    the sandbox directory \(path) must be reachable by the sandbox user (uid \(uid)), but \(current) \
                    is mode \(String(mode & 0o7777, radix: 8)): choose a directory outside it with --cache \
                    (the default for root is \(SandboxConfiguration.rootStateDirectory))
                    """)
            }
        }
    }

    /// Removes this process's directories (its sandboxes are gone).
    func removeOwnDirectories() {
        JobDirectory.removeTree(jobsRoot)
        JobDirectory.removeTree((passwdFile as NSString).deletingLastPathComponent)
    }

    /// The interpreter of `profile`, as the sandbox sees it.
    func interpreter(_ profile: SandboxProfile) -> String {
        guard let venv = profile.venv else { return configuration.python }
        return (isSandboxed ? "/venv" : venv) + "/bin/python3"
    }

    /// The interpreter command line of a job's runner.
    func runnerCommand(_ profile: SandboxProfile) -> [String] {
        [interpreter(profile), "-I", "-B", "-u", "-X", "utf8", "-c", RunnerScript.source]
    }

    /// Starts a runner sandbox for `profile`, not yet waiting for it to be ready.
    func startRunner(_ profile: SandboxProfile) throws -> SandboxProcess {
        try start(command: runnerCommand(profile), profile: profile, writableVenv: false)
    }

    /// What every bubblewrap sandbox gets: new user, PID, IPC, UTS (and cgroup) namespaces,
    /// a new session, the system binds, its own `/etc/passwd` and `/etc/group` (from
    /// descriptors `passwd` and `passwd + 1`), a `/proc` of its own and a minimal `/dev`.
    func bubblewrapBase(_ bwrap: String, passwd: Int) -> [String] {
        var arguments = [
            bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--uid", "\(Self.insideUser)", "--gid", "\(Self.insideUser)",
        ] + systemBinds
        arguments += ["--ro-bind-fd", "\(passwd)", "/etc/passwd", "--ro-bind-fd", "\(passwd + 1)", "/etc/group"]
        arguments += ["--proc", "/proc", "--dev", "/dev"]
        return arguments
    }

    /// Starts `command` in a fresh sandbox. `writableVenv` binds the profile's venv writable
    /// (building it). `extraReadOnly` are host directories bound read-only at the same path.
    func start(command: [String], profile: SandboxProfile, writableVenv: Bool, extraReadOnly: [String] = []) throws -> SandboxProcess {
        let directory = try JobDirectory.create(under: jobsRoot, owner: hostUser)
        guard isSandboxed else {
            guard profile.folders.isEmpty else {
                directory.remove()
                throw SandboxError("shared folders need the sandbox: without bubblewrap a job would see the whole host, not /mnt")
            }
            var environment = Self.environment(home: directory.work, tmp: directory.tmp, venv: profile.venv)
            environment["PATH"] = (profile.venv.map { $0 + "/bin:" } ?? "") + "/usr/local/bin:/usr/bin:/bin"
            let plan = SpawnPlan(
                arguments: command, environment: environment, directory: directory.work,
                limits: [(Int32(RLIMIT_CORE.rawValue), 0)])
            return try SandboxProcess.start(plan, directory: directory, viaBubblewrap: false)
        }
        guard case .bubblewrap(let bwrap) = configuration.isolation else { fatalError("unreachable") }
        var descriptors: [Int32] = []
        defer { descriptors.forEach { close($0) } }
        // 5, 6: work and tmp; 7, 8: passwd and group; 9: the system-call filter; 10: the environment.
        do {
            for path in [directory.work, directory.tmp, passwdFile, groupFile] {
                descriptors.append(try JobDirectory.openForBinding(path))
            }
            descriptors.append(try SeccompPolicy.descriptor(holding: seccompProgram))
            if let venv = profile.venv { descriptors.append(try JobDirectory.openForBinding(venv)) }
            // Opened here and checked against what was shared, so what is bound is that folder,
            // not one a link swapped in later. The error names the folder, never its host path.
            for folder in profile.folders {
                let descriptor: Int32
                do {
                    descriptor = try JobDirectory.openForBinding(folder.path)
                } catch {
                    throw SandboxError("the folder shared as \(folder.sandboxPath) is gone from this machine: share it again (restart `agentos desktop attach --dir`)")
                }
                descriptors.append(descriptor)
                var info = stat()
                guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFDIR,
                    folder.identity.map({ $0 == SharedFolder.FileIdentity(info) }) ?? true
                else {
                    throw SandboxError("the folder shared as \(folder.sandboxPath) was moved or replaced since it was shared: share it again (restart `agentos desktop attach --dir`)")
                }
            }
        } catch {
            directory.remove()
            throw error
        }
        var arguments = bubblewrapBase(bwrap, passwd: 7) + ["--disable-userns"]
        arguments += [
            "--size", "\(configuration.limits.sharedMemoryMB << 20)", "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
            "--bind-fd", "5", "/work", "--bind-fd", "6", "/tmp",
        ]
        if profile.venv != nil { arguments += [writableVenv ? "--bind-fd" : "--ro-bind-fd", "10", "/venv"] }
        // 10 or 11 on: the shared folders, each at /mnt/<name>.
        let firstFolder = profile.venv == nil ? 10 : 11
        for (index, folder) in profile.folders.enumerated() {
            arguments += [folder.writable ? "--bind-fd" : "--ro-bind-fd", "\(firstFolder + index)", folder.sandboxPath]
        }
        for path in extraReadOnly { arguments += ["--ro-bind", path, path] }
        arguments += ["--chdir", "/work", "--remount-ro", "/", "--seccomp", "9"]
        arguments += command
        let plan = SpawnPlan(
            arguments: arguments,
            environment: Self.environment(home: "/work", tmp: "/tmp", venv: profile.venv.map { _ in "/venv" }),
            directory: nil, extraDescriptors: descriptors, user: hostUser, newUserNamespace: true,
            newNetworkNamespace: !profile.network,
            limits: [
                (Int32(RLIMIT_CORE.rawValue), 0),
                (Int32(__RLIMIT_NPROC.rawValue), UInt64(configuration.limits.processes)),
            ])
        do {
            return try SandboxProcess.start(plan, directory: directory, viaBubblewrap: true)
        } catch {
            directory.remove()
            throw error
        }
    }

    /// Where a fork server's sandbox holds the root its sandboxes pivot into.
    static let forkedRoot = "/.agentos/root"

    /// Starts a fork server for jobs with `venv` (nil: the system interpreter) in a sandbox of
    /// its own, as the sandbox user, with the host's network. It runs in the layout of a job's
    /// sandbox (without a `/work` and `/tmp` of its own) and also sees, under `/.agentos`:
    /// `root`, a second copy of that layout (`/usr`, the links, the `/etc` entries, its own
    /// `passwd` and `group`, a minimal read-only `/dev`, `/venv`, and empty `/proc`, `/work`
    /// and `/tmp`), which each sandbox it clones makes its root (`pivot_root`) and then drops
    /// the rest; `jobs`, this process's jobs root, where it finds each sandbox's directories;
    /// and `proc`, the host's `/proc`, which lets a new PID namespace mount a `/proc` of its
    /// own. It may create user namespaces (its sandboxes forbid them inside). It runs without
    /// the system-call filter, which it needs to make sandboxes, and reads it on descriptor 4
    /// for its jobs to apply. `socket` becomes its descriptor 3 and `stderr` its 2. See
    /// `ForkServerScript`.
    func startForkServer(venv: String?, socket: Int32, stderr: Int32) throws -> pid_t {
        guard case .bubblewrap(let bwrap) = configuration.isolation else { throw SandboxError("a fork server needs bubblewrap") }
        var descriptors: [Int32] = []
        defer { descriptors.forEach { close($0) } }
        // 4: the system-call filter; 5, 6: passwd and group; 7: the jobs root; 8, 9: passwd and
        // group again (a descriptor binds once); 10, 11: the environment, for the server and for
        // the root.
        descriptors.append(try SeccompPolicy.descriptor(holding: seccompProgram))
        let venvs = venv.map { [$0, $0] } ?? []
        for path in [passwdFile, groupFile, jobsRoot, passwdFile, groupFile] + venvs {
            descriptors.append(try JobDirectory.openForBinding(path))
        }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard devNull >= 0 else { throw SandboxError.errno(errno, "open /dev/null") }
        defer { close(devNull) }
        let root = Self.forkedRoot
        var arguments = bubblewrapBase(bwrap, passwd: 5)
        arguments += ["--remount-ro", "/dev", "--dir", "/work", "--dir", "/tmp"]
        arguments += ["--bind-fd", "7", "/.agentos/jobs", "--bind", "/proc", "/.agentos/proc"]
        arguments += forkedRootBinds
        arguments += ["--ro-bind-fd", "8", root + "/etc/passwd", "--ro-bind-fd", "9", root + "/etc/group"]
        arguments += ["--dev", root + "/dev", "--remount-ro", root + "/dev"]
        arguments += ["--dir", root + "/proc", "--dir", root + "/work", "--dir", root + "/tmp"]
        if venv != nil { arguments += ["--ro-bind-fd", "10", "/venv", "--ro-bind-fd", "11", root + "/venv"] }
        arguments += ["--chdir", "/work", "--remount-ro", "/"]
        arguments += [
            interpreter(SandboxProfile(venv: venv)), "-I", "-B", "-u", "-X", "utf8", "-c", ForkServerScript.source,
            "\(configuration.limits.sharedMemoryMB << 20)", "\(agentos_sys_clone3)", "\(agentos_sys_pivot_root)", root,
        ]
        let plan = SpawnPlan(
            arguments: arguments,
            environment: Self.environment(home: "/work", tmp: "/tmp", venv: venv.map { _ in "/venv" }),
            directory: nil, user: hostUser, newUserNamespace: true, newNetworkNamespace: false,
            // No process limit out here: each sandbox sets its own, which must not be shared.
            limits: [(Int32(RLIMIT_CORE.rawValue), 0)])
        return try spawnProcess(plan, descriptors: [devNull, devNull, stderr, socket] + descriptors)
    }

    /// The small, clean environment a job gets (nothing of the worker's).
    static func environment(home: String, tmp: String, venv: String?) -> [String: String] {
        var environment = [
            "PATH": (venv.map { $0 + "/bin:" } ?? "") + "/usr/local/bin:/usr/bin:/bin",
            "HOME": home, "TMPDIR": tmp, "LANG": "C.UTF-8", "USER": "sandbox", "LOGNAME": "sandbox",
            // glibc reserves 64 MiB of address space per thread arena: with the memory limit on
            // address space, a few threads would use it all.
            "MALLOC_ARENA_MAX": "2",
        ]
        if let venv { environment["VIRTUAL_ENV"] = venv }
        return environment
    }

    /// `/usr` read-only; `/bin`, `/lib`… as on the host (links into `/usr` on a merged-/usr
    /// system, else read-only binds); the `/etc` entries a sandbox sees that exist here. All
    /// under `prefix` inside the sandbox (nothing: at its root).
    static func systemBinds(under prefix: String = "") -> [String] {
        let fileManager = FileManager.default
        var arguments = ["--ro-bind", "/usr", prefix + "/usr"]
        for name in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            let path = "/" + name
            if let target = try? fileManager.destinationOfSymbolicLink(atPath: path) {
                arguments += ["--symlink", target, prefix + path]
            } else if fileManager.fileExists(atPath: path) {
                arguments += ["--ro-bind", path, prefix + path]
            }
        }
        let python = ((try? fileManager.contentsOfDirectory(atPath: "/etc")) ?? []).filter { $0.hasPrefix("python3") }.sorted()
        for entry in etcEntries + python where fileManager.fileExists(atPath: "/etc/" + entry) {
            arguments += ["--ro-bind", "/etc/" + entry, prefix + "/etc/" + entry]
        }
        return arguments
    }
}
