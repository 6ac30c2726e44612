@testable import AgentOSSandbox
import AgentOSWire
import Foundation
import Testing

/// The system-call filter (`SeccompPolicy`) in sandboxes forked by a fork server and started
/// cold: each call it refuses fails with EPERM (clone3 with ENOSYS), and ordinary Python
/// (threads, subprocesses, fork, sockets, mmap) still works. Every test here needs bubblewrap.
@Suite struct SeccompTests {
    /// One engine of each kind for all the calls: an engine per call would start a fork server
    /// per call.
    static let forked = Result { try EngineKind.forked.engine() }
    static let cold = Result { try EngineKind.cold.engine() }

    static func engine(_ kind: EngineKind) throws -> SandboxEngine {
        try (kind == .forked ? forked : cold).get()
    }

    /// Makes one system call with `syscall(2)` and says how it ended: `returned N`, or the
    /// errno's name. Strings are passed as pointers to their bytes, `<pid>` as the job's pid.
    static let probe = """
        import ctypes, errno, os
        def main(number, arguments, forks):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            values = []
            for value in arguments:
                if value == "<pid>":
                    value = os.getpid()
                values.append(ctypes.c_char_p(value.encode()) if isinstance(value, str) else ctypes.c_long(int(value)))
            result = libc.syscall(ctypes.c_long(number), *values)
            if result == 0 and forks:
                os._exit(0)  # the child of a clone the filter should have refused
            if result != -1:
                return "returned %d" % result
            code = ctypes.get_errno()
            return errno.errorcode.get(code, str(code))
        """

    @Test(.serialized, arguments: EngineKind.sandboxed, RefusedCall.all)
    func refusedCallFails(_ kind: EngineKind, _ call: RefusedCall) async throws {
        let engine = try Self.engine(kind)
        let outcome = await engine.run(Self.probe, inputs: [
            "number": .number(Double(call.number)), "arguments": .array(call.arguments), "forks": .bool(call.forks),
        ])
        #expect(outcome.status == .succeeded, "\(outcome)")
        #expect(outcome.result == .string(call.expected), "\(call.testDescription): \(outcome.result ?? .null)")
        #expect(kind == .forked ? engine.coldStarts == 0 : engine.forkedStarts == 0, "every sandbox \(kind)")
    }

    @Test(arguments: EngineKind.sandboxed) func ordinaryPythonStillWorks(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let code = """
            import asyncio, ctypes, errno, hashlib, mmap, multiprocessing, os, select, signal, socket, subprocess, sys, threading
            from concurrent.futures import ThreadPoolExecutor

            def square(x):
                return x * x

            def main():
                seen = {"fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))}
                status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
                seen["seccomp"] = [status["Seccomp"].strip(), int(status["Seccomp_filters"])]
                # Threads (glibc tries clone3 first, and falls back to clone on ENOSYS).
                digests = []
                lock = threading.Lock()
                def work(i):
                    with lock:
                        digests.append(hashlib.sha256(b"%d" % i).hexdigest())
                threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                seen["threads"] = len(set(digests))
                with ThreadPoolExecutor(4) as pool:
                    seen["thread_pool"] = sum(pool.map(square, range(10)))
                # Subprocesses: an interpreter, a shell pipeline, posix_spawn.
                seen["subprocess"] = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout.strip()
                seen["shell"] = subprocess.run("echo $((1 + 2)) | cat", shell=True, capture_output=True, text=True).stdout.strip()
                pid = os.posix_spawn("/usr/bin/true", ["true"], {})
                seen["posix_spawn"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                # fork, directly and as multiprocessing does it (pipes, semaphores in /dev/shm,
                # a manager process on a Unix socket).
                pid = os.fork()
                if pid == 0:
                    os._exit(7)
                seen["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                context = multiprocessing.get_context("fork")
                with context.Pool(2) as pool:
                    seen["process_pool"] = sum(pool.map(square, range(10)))
                with context.Manager() as manager:
                    shared = manager.dict()
                    child = context.Process(target=shared.__setitem__, args=("from", "child"))
                    child.start()
                    child.join()
                    seen["manager"] = dict(shared)
                # Sockets without the network: a pair, a Unix socket, IPv4 and IPv6 sockets,
                # netlink (if_nameindex).
                a, b = socket.socketpair()
                a.sendall(b"pair")
                seen["socketpair"] = b.recv(4).decode()
                server = socket.socket(socket.AF_UNIX)
                server.bind("/tmp/agentos.sock")
                server.listen(1)
                client = socket.socket(socket.AF_UNIX)
                client.connect("/tmp/agentos.sock")
                connection, _ = server.accept()
                client.sendall(b"unix")
                seen["unix"] = connection.recv(4).decode()
                seen["families"] = [socket.socket(family, kind).family.name for family, kind in
                                    [(socket.AF_INET, socket.SOCK_DGRAM), (socket.AF_INET6, socket.SOCK_STREAM)]]
                seen["interfaces"] = [name for _, name in socket.if_nameindex()]
                # mmap as numpy uses it: large anonymous maps with advice, a buffer grown by
                # mremap, a file mapped; and ctypes' executable trampolines.
                big = mmap.mmap(-1, 64 << 20)
                try:
                    big.madvise(mmap.MADV_HUGEPAGE)
                    seen["huge_pages"] = "advised"
                except OSError as error:
                    seen["huge_pages"] = errno.errorcode[error.errno]  # EINVAL on a kernel without them
                big[(32 << 20):(32 << 20) + 4] = b"huge"
                seen["anonymous_map"] = big[(32 << 20):(32 << 20) + 4].decode()
                grown = bytearray(1 << 20)
                grown.extend(bytes(100 << 20))
                seen["grown_mb"] = len(grown) >> 20
                with open("mapped", "wb") as f:
                    f.write(b"m" * 4096)
                with open("mapped", "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    seen["file_map"] = mapped[:4].decode()
                callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)
                seen["ctypes_callback"] = callback(41)
                # The allowed personality: asking for the current one.
                libc = ctypes.CDLL(None, use_errno=True)
                seen["personality"] = libc.personality(ctypes.c_ulong(0xFFFFFFFF))
                # asyncio with a subprocess; epoll; signals.
                async def echo():
                    process = await asyncio.create_subprocess_exec("/usr/bin/echo", "async", stdout=asyncio.subprocess.PIPE)
                    out, _ = await process.communicate()
                    return out.decode().strip()
                seen["asyncio"] = asyncio.run(echo())
                poller = select.epoll()
                poller.register(a.fileno(), select.EPOLLOUT)
                seen["epoll"] = len(poller.poll(1))
                got = []
                signal.signal(signal.SIGUSR1, lambda number, frame: got.append(number))
                signal.raise_signal(signal.SIGUSR1)
                seen["signal"] = got == [signal.SIGUSR1]
                seen["urandom"] = len(os.urandom(16))
                return seen
            """
        let outcome = await engine.run(code, timeout: 120)
        let seen = try #require(outcome.result?.objectValue, "\(outcome)")
        let filtersHere = Self.seccompFilters()
        #expect(seen["seccomp"] == ["2", .number(Double(filtersHere + 1))], "the job runs under one filter more than the test")
        #expect(seen["fds"] == [0, 1, 2, 3, 4], "the filter's descriptor is not left open in the job")
        #expect(seen["threads"] == 16 && seen["thread_pool"] == 285)
        #expect(seen["subprocess"] == "42" && seen["shell"] == "3" && seen["posix_spawn"] == 0)
        #expect(seen["fork"] == 7 && seen["process_pool"] == 285 && seen["manager"] == ["from": "child"])
        #expect(seen["socketpair"] == "pair" && seen["unix"] == "unix" && seen["families"] == ["AF_INET", "AF_INET6"])
        #expect(seen["interfaces"] == ["lo"])
        #expect(seen["huge_pages"] != "EPERM")
        #expect(seen["anonymous_map"] == "huge" && seen["grown_mb"] == 101 && seen["file_map"] == "mmmm")
        #expect(seen["ctypes_callback"] == 42 && seen["personality"] == 0)
        #expect(seen["asyncio"] == "async" && seen["epoll"] == 1 && seen["signal"] == true && seen["urandom"] == 16)
        #expect(kind == .forked ? engine.coldStarts == 0 : engine.forkedStarts == 0, "every sandbox \(kind)")
    }

    @Test(arguments: EngineKind.sandboxed) func jobsWithTheNetworkStillConnect(_ kind: EngineKind) async throws {
        let engine = try kind.engine()
        let listener = try LoopbackListener()
        let code = """
            import socket
            def main(port):
                addresses = sorted({info[4][0] for info in socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)})
                with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                    connection.sendall(b"hello")
                return addresses
            """
        let outcome = await engine.run(code, inputs: ["port": .number(Double(listener.port))], network: true)
        #expect(outcome.status == .succeeded, "\(outcome)")
        #expect(outcome.result?.arrayValue?.contains("127.0.0.1") == true, "\(outcome.result ?? .null)")
        #expect(listener.acceptedAnything)
        #expect(kind == .forked ? engine.coldStarts == 0 : engine.forkedStarts == 0, "every sandbox \(kind)")
    }

    @Test func theProgramIsOneBPFProgramForThisMachine() throws {
        let program = try SeccompPolicy.program()
        // struct sock_filter is 8 bytes; the kernel takes at most 4096 of them.
        #expect(!program.isEmpty && program.count % 8 == 0 && program.count / 8 <= 4096, "\(program.count) bytes")
        #expect(try SeccompPolicy.program() == program, "the same policy compiles to the same program")
    }

    /// The filters the test process itself runs under (a container's, say): a sandbox inherits them.
    static func seccompFilters() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("Seccomp_filters:") }
        return line.flatMap { Int($0.dropFirst("Seccomp_filters:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
    }
}

/// A system call the filter refuses, with arguments under which, where the kernel allows it,
/// the call would succeed or fail otherwise than EPERM without the filter (so that the test
/// can tell the filter from the sandbox's other walls).
struct RefusedCall: Sendable, CustomTestStringConvertible {
    let name: String
    /// This architecture's number of the call.
    let number: Int32
    let arguments: [JSONValue]
    /// The errno name the call fails with.
    var expected = "EPERM"
    /// Whether the call would make a child process, which must exit at once.
    var forks = false

    var testDescription: String {
        let shown = arguments.map { argument -> String in
            if let text = argument.stringValue { return "\"\(text)\"" }
            let value = argument.intValue ?? 0
            return value >= 0x1_0000 ? "0x" + String(value, radix: 16) : "\(value)"
        }
        return "\(name)(\(shown.joined(separator: ", ")))"
    }

    /// A call named as libseccomp names it; nil when this architecture has no such call.
    init?(_ name: String, _ arguments: [JSONValue], expected: String = "EPERM", forks: Bool = false) {
        guard let number = SeccompPolicy.number(of: name) else { return nil }
        self.init(name: name, number: number, arguments: arguments, expected: expected, forks: forks)
    }

    init(name: String, number: Int32, arguments: [JSONValue], expected: String = "EPERM", forks: Bool = false) {
        self.name = name
        self.number = number
        self.arguments = arguments
        self.expected = expected
        self.forks = forks
    }

    static let all: [RefusedCall] = {
        var calls: [RefusedCall?] = [
            // io_uring, which Docker's profile no longer allows either.
            RefusedCall("io_uring_setup", [1, 0]),
            RefusedCall("io_uring_enter", [0, 0, 0, 0, 0, 0]),
            RefusedCall("io_uring_register", [0, 0, 0, 0]),
            // The key rings: KEYCTL_JOIN_SESSION_KEYRING, a user key in the session ring.
            RefusedCall("keyctl", [1, 0]),
            RefusedCall("add_key", ["user", "agentos", "secret", 6, -3]),
            RefusedCall("request_key", ["user", "agentos", 0, 0]),
            // ADDR_NO_RANDOMIZE: only the harmless personalities are allowed.
            RefusedCall("personality", [0x0040000]),
            // PTRACE_TRACEME, and reading or writing another process's memory.
            RefusedCall("ptrace", [0, 0, 0, 0]),
            RefusedCall("process_vm_readv", ["<pid>", 0, 0, 0, 0, 0]),
            RefusedCall("process_vm_writev", ["<pid>", 0, 0, 0, 0, 0]),
            RefusedCall("kcmp", ["<pid>", "<pid>", 0, 0, 0]),
            RefusedCall("pidfd_getfd", [-1, 0, 0]),
            RefusedCall("process_madvise", [-1, 0, 0, 0, 0]),
            // Kernel interfaces: perf, eBPF, userfaultfd (user-mode only, which needs no privilege).
            RefusedCall("perf_event_open", [0, 0, -1, -1, 0]),
            RefusedCall("bpf", [0, 0, 0]),
            RefusedCall("userfaultfd", [1]),
            RefusedCall("fanotify_init", [0, 0]),
            RefusedCall("lookup_dcookie", [0, 0, 0]),
            // Namespaces: none may be made or entered; clone only without namespace flags.
            RefusedCall("unshare", [0]),
            RefusedCall("setns", [-1, 0]),
            RefusedCall("clone", [0x1000_0011, 0, 0, 0, 0], forks: true),  // CLONE_NEWUSER | SIGCHLD
            RefusedCall("clone", [0x4000_0011, 0, 0, 0, 0], forks: true),  // CLONE_NEWNET | SIGCHLD
            // clone3 answers ENOSYS, so that glibc falls back to clone.
            RefusedCall("clone3", [0, 0], expected: "ENOSYS"),
            // Mounts and roots.
            RefusedCall("mount", ["none", "/tmp", "tmpfs", 0, 0]),
            RefusedCall("umount2", ["/tmp", 0]),
            RefusedCall("pivot_root", [".", "."]),
            RefusedCall("chroot", ["/"]),
            RefusedCall("open_tree", [-100, "/", 0]),
            RefusedCall("fsopen", ["tmpfs", 0]),
            RefusedCall("fspick", [-100, "/", 0]),
            RefusedCall("move_mount", [-1, "", -1, "", 0]),
            RefusedCall("mount_setattr", [-1, "", 0, 0, 0]),
            RefusedCall("open_by_handle_at", [-1, 0, 0]),
            RefusedCall("quotactl", [0, 0, 0, 0]),
            RefusedCall("swapon", ["/tmp/swap", 0]),
            // Kernels and modules.
            RefusedCall("kexec_load", [0, 0, 0, 0]),
            RefusedCall("kexec_file_load", [-1, -1, 0, "", 0]),
            RefusedCall("init_module", [0, 0, ""]),
            RefusedCall("finit_module", [-1, "", 0]),
            RefusedCall("delete_module", ["agentos", 0]),
            RefusedCall("reboot", [0, 0, 0, 0]),
            // The machine's clock, names, log and accounting.
            RefusedCall("settimeofday", [0, 0]),
            RefusedCall("clock_settime", [0, 0]),
            RefusedCall("sethostname", ["x", 1]),
            RefusedCall("setdomainname", ["x", 1]),
            RefusedCall("syslog", [3, 0, 0]),
            RefusedCall("acct", [0]),
            RefusedCall("vhangup", []),
            // Memory placement policy (Docker allows it only with CAP_SYS_NICE).
            RefusedCall("set_mempolicy", [0, 0, 0]),
            RefusedCall("get_mempolicy", [0, 0, 0, 0, 0]),
            RefusedCall("mbind", [0, 0, 0, 0, 0, 0]),
            RefusedCall("move_pages", [0, 0, 0, 0, 0, 0]),
            RefusedCall("migrate_pages", [0, 0, 0, 0]),
            // Old interfaces: the file system type list, and on x86 the LDT and I/O ports.
            RefusedCall("sysfs", [3]),
            RefusedCall("modify_ldt", [0, 0, 0]),
            RefusedCall("iopl", [3]),
            RefusedCall("ioperm", [0, 1, 1]),
            // Socket families Docker refuses: AF_ALG (the kernel's crypto) and AF_VSOCK.
            RefusedCall("socket", [38, 5, 0]),
            RefusedCall("socket", [40, 1, 0]),
        ]
        #if arch(x86_64)
        // getpid through the x32 ABI: another ABI's calls are refused whatever they are.
        calls.append(RefusedCall(name: "x32 getpid", number: 0x4000_0000 | 39, arguments: []))
        #endif
        return calls.compactMap { $0 }
    }()
}
