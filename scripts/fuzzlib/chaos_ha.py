"""Chaos over the HA topology: the chaos part's jobs, submitted through one gateway that knows
two servers sharing one PostgreSQL database (`agentos store local`), to four workers that know
both servers, while workers are SIGKILLed at random and each server in turn is SIGKILLed and
started again. A worker whose server dies moves to the other with its runs; a submit the
gateway could not place is retried by the client with its idempotency key. At the end every
job must have succeeded with its own right result: 0 lost, 0 wrong, 0 failed, and no job
twice for one key."""

import os
import re
import signal
import socket
import time

from . import chaos
from .cluster import ADMIN_EMAIL, ADMIN_PASSWORD, Cluster

NAME = "chaos-ha"


def time_bound(quick):
    return 240 if quick else 480


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HACluster(Cluster):
    """Two servers on one data directory (their keys) and one PostgreSQL store."""

    SERVERS = ("server-a", "server-b")

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.store = None
        self.endpoints = {}  # server name -> (bus, api), kept across restarts

    def start_postgres(self, timeout=90):
        self.start("postgres", ["store", "local", "--dir", os.path.join(self.dir, "postgres"), "--port", str(free_port())])
        text = self._wait_log("postgres", "postgres ready", 0, timeout, "the database")
        self.store = re.search(r"postgres ready url=(\S+)", text).group(1)

    def start_server(self, name="server-a", timeout=60):
        bus, api = self.endpoints.get(name, ("tcp://127.0.0.1:*", "tcp://127.0.0.1:*"))
        before = self.log(name).count("server ready")
        args = ["server", "--data", self.data, "--bus", bus, "--api", api, "--store", self.store]
        if self.heartbeat_ms:
            args += ["--heartbeat-ms", str(self.heartbeat_ms)]
        self.start(name, args, extra_env=self.server_env)
        text = self._wait_log(name, "server ready", before, timeout, name)
        line = [l for l in text.splitlines() if "server ready" in l][-1]
        self.endpoints[name] = (re.search(r"bus=(\S+)", line).group(1), re.search(r"api=(\S+)", line).group(1))
        self.bus, self.api = self.endpoints[self.SERVERS[0]] if self.SERVERS[0] in self.endpoints else self.endpoints[name]

    def start_gateway(self, timeout=60):
        apis = ",".join(self.endpoints[name][1] for name in self.SERVERS)
        self.start("gateway", ["gateway", "--listen", "127.0.0.1:0", "--server", apis])
        text = self._wait_log("gateway", "listening on ", 0, timeout, "the gateway")
        host, port = re.search(r"listening on (\S+)", text).group(1).rsplit(":", 1)
        self.gateway = (host, int(port))

    def start_worker(self, name, slots=2, warm_pool=1, labels=None):
        buses = [self.endpoints[server][0] for server in self.SERVERS]
        # Workers start on both servers in turn.
        if int(name.lstrip("w") or 0) % 2 == 0:
            buses.reverse()
        args = ["worker", "--server", ",".join(buses), "--token-file", os.path.join(self.data, "worker-token"),
                "--name", name, "--slots", str(slots), "--cache", self.cache, "--warm-pool", str(warm_pool),
                "--drain-timeout", "2"]
        return self.start(name, args)

    def boot(self, workers=(), slots=2, timeout=90):
        self.start_postgres()
        self.start_server("server-a")
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(self.data, "worker-token")) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.start_server("server-b")
        self.start_gateway()
        for name in workers:
            self.start_worker(name, slots=slots)
        self.wait_healthy(timeout)
        self.admin_token = self.login(ADMIN_EMAIL, ADMIN_PASSWORD)
        # GET /healthz counts the answering server's workers only: each worker's log says.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all("connected" in self.log(name) for name in workers):
                return self.admin_token
            time.sleep(0.2)
        raise RuntimeError(f"the workers did not connect within {timeout} s")


class HAChaos(chaos.Chaos):
    def kill_server(self):
        name = HACluster.SERVERS[self.server_kills % 2]
        self.c.procs[name].kill(signal.SIGKILL)
        self.server_kills += 1
        time.sleep(self.rng.uniform(0.5, 2.0))
        self.c.start_server(name)
        print(f"  chaos-ha: {name} SIGKILLed and started again ({self.server_kills})", flush=True)


def run(part, ctx):
    ctx_cluster = HACluster("chaos-ha", ctx.root, heartbeat_ms=chaos.HEARTBEAT_MS)
    ctx.clusters.append(ctx_cluster)
    chaos.run_with(part, ctx_cluster, HAChaos, ctx.quick)


def summary(part):
    return chaos.summary(part).replace("chaos", "chaos-ha", 1)
