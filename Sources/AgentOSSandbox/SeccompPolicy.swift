import CSeccomp
import CSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The system-call filter every job in a bubblewrap sandbox runs under (SPEC §5): an
/// allow-list modelled on Docker's default seccomp profile, compiled by libseccomp into a BPF
/// program for this machine's architecture. A call the filter does not allow fails with
/// `EPERM`, and so does every call made through another ABI (x32 or i386 on x86_64), except
/// `clone3`, which fails with `ENOSYS`: glibc then falls back to `clone`, whose flags the
/// filter can read (`clone3` passes them in memory, where a filter cannot look).
///
/// Against Docker's profile for a container without added capabilities it only refuses more:
/// `ptrace`, `process_vm_readv` and `process_vm_writev` (Docker allows them on kernels from
/// 4.8), `modify_ldt`, and the other ABIs. Both refuse the io_uring calls, the key-ring calls,
/// `bpf`, `perf_event_open`, `userfaultfd`, mounts, namespaces and modules.
///
/// Fork servers do not run under it (they clone with namespace flags, mount and pivot); the
/// jobs they fork apply it before the runner starts (`ForkServerScript`).
enum SeccompPolicy {
    /// Calls allowed whatever their arguments: Docker's default allow-list, plus `arch_prctl`,
    /// which Docker allows on x86_64 only (here too: names this architecture lacks, such as
    /// the 32-bit ones, and names this libseccomp does not know are skipped).
    static let allowed = [
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget", "capset", "chdir",
        "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
        "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
        "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
        "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
        "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
        "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
        "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
        "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
        "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd",
        "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
        "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
        "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
        "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid",
        "getuid32", "getxattr", "getxattrat", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
        "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get",
        "ioprio_set", "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listmount",
        "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
        "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat",
        "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
        "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
        "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
        "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
        "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
        "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
        "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
        "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr",
        "removexattrat", "rename", "renameat", "renameat2", "restart_syscall", "riscv_hwprobe", "rmdir", "rseq",
        "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
        "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
        "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
        "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
        "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
        "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
        "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32",
        "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
        "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt",
        "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "setxattrat", "shmat", "shmctl",
        "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
        "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statmount", "statx", "symlink",
        "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
        "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
        "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
        "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime",
        "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
        "writev",
        "arch_prctl",
    ]

    /// The flags that make new namespaces; `clone` is allowed only without them.
    static let namespaceFlags: UInt64 = 0x7E02_0000  // NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET

    /// The `personality` values allowed, as Docker allows them: Linux, 32-bit Linux, each with
    /// `UNAME26`, and 0xffffffff, which only asks for the current one. Others (turning off
    /// address-space randomisation, for one) fail.
    static let personalities: [UInt64] = [0, 0x0008, 0x2_0000, 0x2_0008, 0xFFFF_FFFF]

    /// Socket families refused, as Docker refuses them: `AF_ALG` (the kernel's crypto API) and
    /// `AF_VSOCK` (the hypervisor's sockets), 38 and 40. Every other family is allowed.
    static let refusedSocketFamilies: ClosedRange<UInt64> = 38...40
    /// The one family inside that range that is allowed: `AF_NFC`.
    static let allowedFamilyInRange: UInt64 = 39

    /// This architecture's number of the call `name`, when libseccomp knows one.
    static func number(of name: String) -> Int32? {
        let number = seccomp_syscall_resolve_name(name)
        // libseccomp answers other architectures' calls with negative pseudo-numbers.
        return number >= 0 ? number : nil
    }

    /// The compiled filter: an array of `struct sock_filter` (8 bytes each), as bubblewrap's
    /// `--seccomp` and `prctl(PR_SET_SECCOMP)` take it.
    static func program() throws -> [UInt8] {
        let refuse = agentos_scmp_act_errno(UInt16(EPERM))
        guard let context = seccomp_init(refuse) else { throw SandboxError("the system-call filter: seccomp_init failed") }
        defer { seccomp_release(context) }
        try check(seccomp_attr_set(context, SCMP_FLTATR_ACT_BADARCH, refuse), "refusing other ABIs")
        // A binary search over the call numbers rather than ~300 comparisons in a row.
        try check(seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2), "choosing the binary-tree layout")
        let allow = UInt32(SCMP_ACT_ALLOW)
        for name in allowed {
            try add(context, allow, name)
        }
        try add(context, allow, "clone", [scmp_arg_cmp(arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: namespaceFlags, datum_b: 0)])
        try add(context, agentos_scmp_act_errno(UInt16(ENOSYS)), "clone3")
        for value in personalities {
            try add(context, allow, "personality", [scmp_arg_cmp(arg: 0, op: SCMP_CMP_EQ, datum_a: value, datum_b: 0)])
        }
        for comparison in [
            scmp_arg_cmp(arg: 0, op: SCMP_CMP_LT, datum_a: refusedSocketFamilies.lowerBound, datum_b: 0),
            scmp_arg_cmp(arg: 0, op: SCMP_CMP_EQ, datum_a: allowedFamilyInRange, datum_b: 0),
            scmp_arg_cmp(arg: 0, op: SCMP_CMP_GT, datum_a: refusedSocketFamilies.upperBound, datum_b: 0),
        ] {
            try add(context, allow, "socket", [comparison])
        }
        let fd = agentos_memfd("agentos-seccomp", nil, 0)
        guard fd >= 0 else { throw SandboxError.errno(-fd, "the system-call filter: memfd_create") }
        defer { close(fd) }
        try check(seccomp_export_bpf(context, fd), "exporting it")
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SandboxError.errno(errno, "the system-call filter: fstat") }
        var program = [UInt8](repeating: 0, count: Int(info.st_size))
        let read = program.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard read == program.count, !program.isEmpty, program.count % 8 == 0 else {
            throw SandboxError("the system-call filter: libseccomp exported \(read) bytes, not a program")
        }
        return program
    }

    /// A descriptor holding `program`, read from its start: what bubblewrap's `--seccomp` and
    /// a fork server read once. The caller closes it.
    static func descriptor(holding program: [UInt8]) throws -> Int32 {
        let fd = program.withUnsafeBytes { agentos_memfd("agentos-seccomp", $0.baseAddress, $0.count) }
        guard fd >= 0 else { throw SandboxError.errno(-fd, "handing over the system-call filter") }
        return fd
    }

    /// Adds a rule for `name`, unless this architecture has no such call.
    private static func add(_ context: scmp_filter_ctx, _ action: UInt32, _ name: String, _ comparisons: [scmp_arg_cmp] = []) throws {
        guard let number = number(of: name) else { return }
        let rc = comparisons.withUnsafeBufferPointer {
            seccomp_rule_add_array(context, action, number, UInt32($0.count), $0.baseAddress)
        }
        try check(rc, "a rule for \(name)")
    }

    private static func check(_ rc: Int32, _ what: String) throws {
        guard rc == 0 else { throw SandboxError.errno(-rc, "the system-call filter: \(what)") }
    }
}
