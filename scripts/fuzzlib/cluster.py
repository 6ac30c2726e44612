"""A cluster of real agentos processes for one part: a server, a gateway and workers on
kernel-chosen loopback ports, in a temporary directory. Every process it starts is killed
by its process id in stop(); so are the processes they leave behind (a SIGKILLed worker's
sandboxes), because this process is made their child subreaper."""

import ctypes
import os
import re
import resource
import signal
import subprocess
import tempfile
import time

from . import httpc

ADMIN_EMAIL = "admin@localhost"
ADMIN_PASSWORD = "fuzz-admin-password-1"
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    """Orphans of the processes we start are re-parented to us, so stop() can find them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except OSError:
        pass


def _children(pid, zombies=True):
    """Process ids whose parent is pid (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and (zombies or fields[0] != "Z"):
            out.append(int(entry))
    return out


def descendants(pid):
    """Every live process below pid."""
    seen, todo = [], [pid]
    while todo:
        for child in _children(todo.pop(), zombies=False):
            seen.append(child)
            todo.append(child)
    return seen


def reap_orphans(keep=()):
    """Waits for re-parented children that have exited (not the Popen ones in keep)."""
    for child in _children(os.getpid()):
        if child in keep:
            continue
        try:
            os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            pass


class Process:
    def __init__(self, name, popen, log_path):
        self.name, self.popen, self.log_path = name, popen, log_path

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL, wait=10):
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
        if wait:
            try:
                self.popen.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)

    def rss_mib(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None


class Cluster:
    def __init__(self, name, root, binary=None, heartbeat_ms=None, queue_timeout=None, gateway_nofile=None,
                 log_level="info", server_env=None):
        self.name = name
        self.binary = binary or os.environ["AGENTOS_BIN"]
        self.dir = tempfile.mkdtemp(prefix=f"{name}-", dir=root)
        os.chmod(self.dir, 0o711)  # sandboxes run as their own user and pass through to the cache
        self.data = os.path.join(self.dir, "data")
        self.cache = os.path.join(self.dir, "sandbox")
        self.heartbeat_ms, self.queue_timeout = heartbeat_ms, queue_timeout
        self.gateway_nofile, self.log_level = gateway_nofile, log_level
        self.server_env = server_env or {}  # AGENTOS_* settings a binary without them ignores
        self.bus = self.api = self.gateway = None
        self.procs = {}
        self.retired = []  # killed processes, kept so their exit is waited for
        self.admin_token = None
        self.stopped = False

    # -- processes -------------------------------------------------------------------------

    def log_path(self, name):
        return os.path.join(self.dir, f"{name}.log")

    def log(self, name):
        try:
            with open(self.log_path(name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self, name, args, nofile=None, extra_env=None):
        if self.stopped:
            raise RuntimeError(f"the {self.name} cluster has been stopped")
        # Every option reads an AGENTOS_* variable: none of the caller's may leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOS_")}
        env.update(AGENTOS_BCRYPT_COST="4", AGENTOS_ADMIN_EMAIL=ADMIN_EMAIL, AGENTOS_ADMIN_PASSWORD=ADMIN_PASSWORD,
                   AGENTOS_LOG_LEVEL=self.log_level)
        env.update(extra_env or {})
        log = open(self.log_path(name), "ab")

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        popen = subprocess.Popen([self.binary] + args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                 start_new_session=True, preexec_fn=limit if nofile else None)
        log.close()
        old = self.procs.get(name)
        if old is not None:
            self.retired.append(old)
        self.procs[name] = Process(name, popen, self.log_path(name))
        return self.procs[name]

    def _wait_log(self, name, marker, count_before, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log(name)
            if text.count(marker) > count_before:
                return text
            if not self.procs[name].alive():
                raise RuntimeError(f"{what} exited at start: {text[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"{what} did not start within {timeout} s: {self.log(name)[-2000:]}")

    def start_server(self, timeout=60):
        """First start on kernel-chosen ports; a restart binds the same ones again."""
        before = self.log("server").count("server ready")
        args = ["server", "--data", self.data, "--bus", self.bus or "tcp://127.0.0.1:*",
                "--api", self.api or "tcp://127.0.0.1:*"]
        if self.heartbeat_ms:
            args += ["--heartbeat-ms", str(self.heartbeat_ms)]
        if self.queue_timeout:
            args += ["--queue-timeout", str(self.queue_timeout)]
        self.start("server", args, extra_env=self.server_env)
        text = self._wait_log("server", "server ready", before, timeout, "the server")
        line = [l for l in text.splitlines() if "server ready" in l][-1]
        self.bus = re.search(r"bus=(\S+)", line).group(1)
        self.api = re.search(r"api=(\S+)", line).group(1)

    def start_gateway(self, timeout=60):
        self.start("gateway", ["gateway", "--listen", "127.0.0.1:0", "--server", self.api], nofile=self.gateway_nofile)
        text = self._wait_log("gateway", "listening on ", 0, timeout, "the gateway")
        address = re.search(r"listening on (\S+)", text).group(1)
        host, port = address.rsplit(":", 1)
        self.gateway = (host, int(port))

    def start_worker(self, name, slots=2, warm_pool=1, labels=None):
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(self.data, "worker-token")) and time.monotonic() < deadline:
            time.sleep(0.05)
        args = ["worker", "--server", self.bus, "--token-file", os.path.join(self.data, "worker-token"),
                "--name", name, "--slots", str(slots), "--cache", self.cache, "--warm-pool", str(warm_pool),
                "--drain-timeout", "2"]
        if labels:
            args += ["--labels", ",".join(labels)]
        return self.start(name, args)

    @property
    def url(self):
        return f"http://{self.gateway[0]}:{self.gateway[1]}"

    def client(self, **kw):
        return httpc.Client(self.gateway, **kw)

    def boot(self, workers=(), slots=2, timeout=90):
        """Server, gateway, the named workers; waits until the workers are connected and
        returns an admin access token."""
        self.start_server()
        self.start_gateway()
        for name in workers:
            self.start_worker(name, slots=slots)
        self.wait_healthy(timeout)
        self.admin_token = self.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        if workers:
            self.wait_workers(len(workers), timeout)
        return self.admin_token

    def wait_healthy(self, timeout=60):
        c = self.client(timeout=5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if c.get("/healthz").status == 200:
                    return
            except (httpc.Hang, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the cluster was not healthy within {timeout} s")

    def connected_workers(self):
        r = self.client(timeout=10).get("/healthz")
        return (r.json or {}).get("server", {}).get("workers", 0) if r.status == 200 else 0

    def wait_workers(self, count, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.connected_workers() >= count:
                    return
            except (httpc.Hang, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{count} workers did not connect within {timeout} s")

    def login(self, email, password, source=None):
        r = self.client(source=source).post("/api/v1/auth/login", {"email": email, "password": password})
        if r.status != 200:
            raise RuntimeError(f"login {email} answered {r.status}: {r.text[:300]}")
        return r.json["access_token"]

    def pat(self, token, name):
        """A personal access token (logging out or re-logging cannot end it)."""
        r = self.client().post("/api/v1/tokens", {"name": name}, token=token)
        if r.status != 201:
            raise RuntimeError(f"POST /tokens answered {r.status}: {r.text[:300]}")
        return r.json["token"], r.json["id"]

    def create_user(self, email, password, name="Fuzz", role="user"):
        r = self.client().post("/api/v1/users", {"email": email, "password": password, "name": name, "role": role},
                               token=self.admin_token)
        if r.status != 201:
            raise RuntimeError(f"POST /users {email} answered {r.status}: {r.text[:300]}")
        return r.json["id"]

    # -- teardown --------------------------------------------------------------------------

    def stop(self):
        """SIGKILL what we started, then whatever they left behind, by process id. Nothing
        starts in this cluster afterwards."""
        self.stopped = True
        for proc in list(self.procs.values()) + self.retired:
            if proc.alive():
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in list(self.procs.values()) + self.retired:
            try:
                proc.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        kill_descendants()


def kill_descendants(timeout=5):
    """SIGKILLs every process still running below this one, by process id. Parts run one at
    a time and only their cluster starts processes that outlive a call, so these are the
    cluster's: what it runs, and what its SIGKILLed processes left behind (re-parented here)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = descendants(os.getpid())
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
        reap_orphans()
    reap_orphans()
