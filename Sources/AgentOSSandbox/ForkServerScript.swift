/// The Python program of a fork server (`python3 -I -c SOURCE SHM_BYTES SYS_clone3
/// SYS_pivot_root ROOT`), run in a bubblewrap sandbox of its own. It imports the runner and
/// waits on descriptor 3, a SOCK_SEQPACKET socket to the engine, for requests: a JSON object
/// (`dir`, the sandbox's directory under `/.agentos/jobs`; `network`) with five descriptors
/// (the sandbox's stdout, stderr, control in, control out, and a status socket). It never
/// runs a job itself. At start it reads the jobs' system-call filter (`SeccompPolicy`, a BPF
/// program) from descriptor 4 and closes it; it runs without the filter itself. Per request it
/// clones (`clone3`, as `os.fork` forks: Python's fork hooks run around it):
///
/// 1. the sandbox's init, born in new user, mount, PID, IPC, UTS and cgroup namespaces (and
///    network, unless the job has it): PID 1 of its PID namespace. It puts the descriptors in
///    place (0 /dev/null, 1–4 as given, 5 the status socket; nothing else stays open) and maps
///    uid and gid 1000 to themselves. In ROOT (the server's copy of a sandbox's layout) it
///    mounts a fresh `/proc`, binds the sandbox's `work` and `tmp` at `/work` and `/tmp` and
///    mounts a new `/dev/shm` and `/dev/pts`; then it makes ROOT its root (`pivot_root`) and
///    detaches the old one, with all the server's mounts. It forbids user namespaces inside,
///    drops every capability (bounding set too) and sets no_new_privs and non-dumpable; it
///    sends a pidfd of itself on the status socket (`pid`), forks 2., reaps whatever is
///    orphaned to it, and when 2. ends writes `exit <wait status>` and exits, which ends
///    everything left in the namespace. It also exits when the engine closes its end of the
///    status socket.
/// 2. the job's process, which applies the filter (`PR_SET_SECCOMP`; init set no_new_privs)
///    and calls `serve()` (RunnerScript): ready, settings, limits, job. If the filter cannot be
///    applied, it says `error …` on the status socket and ends before any of that.
///
/// Set-up failures are written on the status socket as `error <text>`.
enum ForkServerScript {
    static let source = RunnerScript.serve + #"""

import ctypes, fcntl, gc, re, select, signal, socket

def fork_server():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    # clone3 is called holding the interpreter lock (PyDLL), as os.fork calls fork().
    raw = ctypes.PyDLL(None, use_errno=True)
    raw.syscall.restype = ctypes.c_long
    raw.syscall.argtypes = [ctypes.c_long, ctypes.c_void_p, ctypes.c_size_t]
    libc.syscall.argtypes = [ctypes.c_long, ctypes.c_char_p, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    MNT_DETACH = 2
    SYS_clone3, SYS_pivot_root, ROOT = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x02000000, 0x04000000, 0x08000000
    CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
    MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
    PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 4, 22, 24, 38, 47
    SECCOMP_MODE_FILTER = 2
    STATUS, FILTER = 5, 4
    shm_bytes = int(sys.argv[1])
    uid, gid = os.getuid(), os.getgid()
    last_capability = int(open("/proc/sys/kernel/cap_last_cap").read())

    class CapHeader(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class CapData(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    class CloneArgs(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint64) for name in (
            "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls", "set_tid",
            "set_tid_size", "cgroup")]

    def check(rc, what):
        if rc != 0:
            error = ctypes.get_errno()
            raise OSError(error, "%s: %s" % (what, os.strerror(error)))

    def clone(flags):
        """os.fork(), with the child in the new namespaces `flags` names. This process has one
        thread, so no lock is held elsewhere at the clone; glibc's cached thread id is stale in
        the child, which uses no call that reads it (its own forks go through glibc)."""
        if SYS_clone3 < 0:
            raise OSError(38, "clone3: this system has no clone3")
        arguments = CloneArgs(flags=flags, exit_signal=signal.SIGCHLD)
        ctypes.pythonapi.PyOS_BeforeFork()
        pid = raw.syscall(SYS_clone3, ctypes.byref(arguments), ctypes.sizeof(arguments))
        if pid == 0:
            ctypes.pythonapi.PyOS_AfterFork_Child()
            return 0
        error = ctypes.get_errno()
        ctypes.pythonapi.PyOS_AfterFork_Parent()
        if pid < 0:
            raise OSError(error, "clone3: " + os.strerror(error))
        return pid

    def read_filter():
        """The jobs' filter, read once: every job's process applies this same program."""
        program = read_to_end(FILTER)
        if not program or len(program) % 8 or len(program) // 8 > 4096:
            sys.exit("fork server: the system-call filter on descriptor %d is not a BPF program" % FILTER)
        instructions = ctypes.create_string_buffer(program, len(program))
        return instructions, SockFprog(len(program) // 8, ctypes.addressof(instructions))

    def mount(source, target, kind, flags, data=None):
        check(libc.mount(source and source.encode(), target.encode(), kind and kind.encode(), flags,
                         data and data.encode()), "mounting " + target)

    def report(fd, text):
        try:
            os.write(fd, text.encode("utf-8", "replace")[:4000] + b"\n")
        except OSError:
            pass

    def write(path, text):
        with open(path, "w") as f:
            f.write(text)

    def place(fds):
        # 0 /dev/null, 1-4 the pipes, 5 the status socket; nothing else of the server.
        null = os.open("/dev/null", os.O_RDONLY)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in [null] + fds]
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        os.closerange(len(high), 1 << 20)
        for fd in (3, 4, STATUS):
            os.set_inheritable(fd, False)

    def init(directory):
        # PID 1 of the sandbox, in its new namespaces. Everything the job must not share with
        # other jobs is made new here, before the job's process exists.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # Signals from inside the namespace with no handler do not reach init.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        write("/proc/self/setgroups", "deny")
        write("/proc/self/uid_map", "%d %d 1\n" % (uid, uid))
        write("/proc/self/gid_map", "%d %d 1\n" % (gid, gid))
        # The sandbox's root is ROOT, the layout the server's sandbox holds for it, with the
        # sandbox's own /proc (mounted while the host's is still in view, as the kernel asks),
        # /work, /tmp, /dev/shm and /dev/pts; pivoting into it and detaching the old root
        # leaves nothing of the server's mounts (its jobs root, the host's /proc) in the
        # sandbox's mount namespace.
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        mount(ROOT, ROOT, None, MS_BIND | MS_REC)
        mount("proc", ROOT + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        mount("/.agentos/jobs/%s/work" % directory, ROOT + "/work", None, MS_BIND)
        mount("/.agentos/jobs/%s/tmp" % directory, ROOT + "/tmp", None, MS_BIND)
        mount("tmpfs", ROOT + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=%d,mode=1777" % shm_bytes)
        mount("devpts", ROOT + "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
        os.chdir(ROOT)
        check(libc.syscall(SYS_pivot_root, b".", b"."), "pivoting into the sandbox's root")
        check(libc.umount2(b".", MNT_DETACH), "detaching the server's root")
        write("/proc/sys/user/max_user_namespaces", "0")
        for capability in range(last_capability + 1):
            check(libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0), "dropping capability %d" % capability)
        check(libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0), "clearing ambient capabilities")
        check(libc.capset(ctypes.byref(CapHeader(0x20080522, 0)), (CapData * 2)()), "dropping capabilities")
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "setting no_new_privs")
        check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "making init non-dumpable")
        os.chdir("/work")
        me = os.pidfd_open(os.getpid())
        status = socket.socket(fileno=STATUS)
        socket.send_fds(status, [b"pid"], [me])
        status.detach()
        os.close(me)
        job = os.fork()
        if job == 0:
            # The job is dumpable, as in a sandbox started cold (it may read its own /proc);
            # its init stays out of its reach.
            check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "making the job dumpable")
            os.setsid()
            gc.enable()
            signal.signal(signal.SIGINT, signal.default_int_handler)
            # Last, the system-call filter: from here on this process and all it starts make
            # only the calls a job may make (a cold sandbox's runner is under it from exec).
            if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(job_filter), 0, 0) != 0:
                report(STATUS, "error applying the system-call filter: " + os.strerror(ctypes.get_errno()))
                os._exit(1)
            os.close(STATUS)
            serve()
            os._exit(0)
        watch = select.poll()
        watch.register(STATUS, select.POLLIN)
        watch.register(os.pidfd_open(job), select.POLLIN)
        while True:
            events = watch.poll(1000)
            while True:
                try:
                    pid, wait_status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    pid = 0
                if pid == 0:
                    break
                if pid == job:
                    report(STATUS, "exit %d" % wait_status)
                    os._exit(0)
            for fd, _ in events:
                if fd == STATUS and not os.read(STATUS, 64):
                    os._exit(1)  # the engine let go: the job ends with us

    def start(request, fds):
        flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP
        if not request["network"]:
            flags |= CLONE_NEWNET
        try:
            pid = clone(flags)
        except OSError as error:
            if error.errno != 22:
                raise
            pid = clone(flags & ~CLONE_NEWCGROUP)  # a kernel without cgroup namespaces
        if pid == 0:
            status = fds[4]
            try:
                place(fds)
                status = STATUS
                init(request["dir"])
            except BaseException as error:
                report(status, "error %s" % error)
            os._exit(1)

    # job_filter points into filter_instructions, which must live as long as this process.
    filter_instructions, job_filter = read_filter()
    # The children this process forks are reaped by the kernel.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # The collector never runs here, and what exists at each fork is frozen: a collection in
    # a forked process then never writes to the server's objects, each write a copied page.
    gc.disable()
    engine = socket.socket(fileno=3)
    engine.send(b"ready")
    valid = re.compile(r"[0-9a-f-]{36}\Z")
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(engine, 4096, 8)
        except OSError:
            os._exit(1)
        if not message:
            os._exit(0)  # the engine is gone
        try:
            request = json.loads(message)
            if len(fds) != 5 or not valid.match(request["dir"]) or not isinstance(request["network"], bool):
                raise ValueError("a malformed request")
            gc.freeze()
            start(request, fds)
        except Exception as error:
            if len(fds) == 5:
                report(fds[4], "error %s" % error)
        for fd in fds:
            os.close(fd)

fork_server()
"""#
}
