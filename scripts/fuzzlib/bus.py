"""Garbage on both ZeroMQ sockets of the server (docs/PROTOCOL.md): the job bus ROUTER that
workers connect to (`[b"AOS/1", COMMAND, json]`) and the API ROUTER that gateways connect
to (`[b"AOS-API/2", header json, body]`). Random frames, truncated and invalid JSON, wrong
types, unknown commands, commands only the server may send, from unregistered and from
registered connections; 16 MiB HELLOs and 60 MiB API requests while the server's memory is
watched (defects 7 and 8); a forged API `client` field (8); the log must not grow a line per
malformed message (9). Afterwards the server must be alive, answer a valid HELLO and run a
job end to end."""

import json
import os
import random
import threading
import time
import uuid

import zmq

NAME = "bus garbage"
TAG, API_TAG = b"AOS/1", b"AOS-API/2"
COMMANDS = [b"HELLO", b"WELCOME", b"REJECT", b"HEARTBEAT", b"JOB", b"STARTED", b"RESULT", b"CANCEL", b"RELEASE",
            b"DRAIN", b"BYE", b"PART", b"FETCH", b"FILE", b"OUTPUT", b"LAUNCH", b"", b"hello", b"HELLO\x00", b"\xff\xfe"]
HELLO_MEMORY_BOUND_MIB = 64   # server RSS growth allowed while 16 MiB HELLOs arrive (defect 7)
API_MEMORY_BOUND_MIB = 256    # server RSS growth allowed while 60 MiB API requests arrive (defect 8)
API_IN_FLIGHT_MIB = 128       # the API socket's budget for request bodies being handled
LOG_LINES_BOUND = 100         # warning lines allowed for a burst of malformed messages from one peer (9)


def time_bound(quick):
    return 150 if quick else 240


def bad_bodies(rng):
    """Bodies that are not what any command takes."""
    deep = b"[" * 100_000
    return [b"", b"{", b'{"protocol": 1', b"null", b"[]", b'"text"', b"12", b"{}", b"\x00\x01", b"\xff\xfe{}",
            b'{"protocol": "one"}', b'{"protocol": 1e400}', b'{"slots": 18446744073709551616}', deep,
            b'{"job_id": 5, "attempt": "1"}', b'{"job_id": "x", "attempt": -1}',
            b'{"job_id": "x", "attempt": 1, "status": "succeeded"}',
            b'{"job_id": "%s", "attempt": 18446744073709551616, "status": "succeeded", "stdout": "", "stderr": "", '
            b'"output_truncated": false, "duration_ms": 1}' % str(uuid.uuid4()).encode(),
            b'{"job_id": "x", "attempt": 1, "status": "weird", "stdout": "", "stderr": "", "output_truncated": false, '
            b'"duration_ms": 1}',
            json.dumps({"job_id": "x\u0000y", "attempt": 1}).encode(), bytes(rng.getrandbits(8) for _ in range(64)),
            # FETCH-shaped: a job nobody runs, offsets and lengths out of range (PROTOCOL 3.5.1).
            b'{"job_id": "x", "attempt": 1, "file_id": "y", "offset": 0, "length": 262144}',
            b'{"job_id": "x", "attempt": 1, "file_id": "y", "offset": -1, "length": 0}',
            b'{"job_id": "x", "attempt": 1, "file_id": "../../etc/passwd", "offset": 0, "length": 1e400}',
            b'{"job_id": "x", "attempt": 1, "file_id": "y", "offset": 18446744073709551616, "length": 1}']


def hello(token, **over):
    body = {"protocol": 1, "worker_id": f"fuzz-{uuid.uuid4()}", "name": "fuzz-fake", "version": "0", "slots": 1,
            "labels": [], "runtimes": ["python3"], "kind": "cloud", "credential": {"worker_token": token}, "running": []}
    body.update(over)
    return body


class Bus:
    def __init__(self, c):
        self.c = c
        self.ctx = zmq.Context()
        self.sockets = []
        self.frames = 0
        self.stalled = 0  # sends that waited 10 s in vain

    def dealer(self, endpoint, maxmsg=None):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDTIMEO, 10_000)
        s.setsockopt(zmq.RCVTIMEO, 10_000)
        if maxmsg:
            s.setsockopt(zmq.MAXMSGSIZE, maxmsg)
        s.connect(endpoint)
        self.sockets.append(s)
        return s

    def send(self, sock, frames):
        """Sends, or notes that the server has not read this connection for 10 s."""
        try:
            sock.send_multipart(frames)
        except zmq.Again:
            self.stalled += 1
            return False
        self.frames += len(frames)
        return True

    def receive(self, sock, timeout_ms):
        """The next message, or None within timeout_ms."""
        if sock.poll(timeout_ms):
            return sock.recv_multipart()
        return None

    def close(self):
        for s in self.sockets:
            s.close(linger=0)
        self.ctx.term()

    def rss(self):
        return self.c.procs["server"].rss_mib() or 0.0

    def warning_lines(self):
        return sum(1 for line in self.c.log("server").splitlines() if " warning " in line)


def watch_rss(bus, stop, samples):
    while not stop.is_set():
        samples.append(bus.rss())
        stop.wait(0.02)


def memory_burst(bus, senders, frames_for, settle=3.0):
    """Runs senders concurrently while sampling the server's RSS: (baseline, peak) in MiB."""
    baseline, samples, stop = bus.rss(), [], threading.Event()
    watcher = threading.Thread(target=watch_rss, args=(bus, stop, samples), daemon=True)
    watcher.start()
    threads = [threading.Thread(target=bus.send, args=(sock, frames_for(i)), daemon=True)
               for i, sock in enumerate(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    time.sleep(settle)
    stop.set()
    watcher.join(2)
    return baseline, max(samples + [baseline])


def run(part, ctx):
    quick = ctx.quick
    rng = random.Random(11)
    c = ctx.cluster("bus")
    c.boot(workers=["w1"], slots=2)
    token = open(os.path.join(c.data, "worker-token")).read().strip()
    bus = Bus(c)
    try:
        cases(part, bus, c, token, rng, quick)
    finally:
        bus.close()
    part.counters.update(frames=bus.frames)
    if bus.stalled:
        part.hang("sends", f"{bus.stalled} sends waited 10 s for the server to read its socket")


def cases(part, bus, c, token, rng, quick):
    alive = lambda: c.procs["server"].alive()

    # Log flooding first, while the log is quiet (9).
    before = bus.warning_lines()
    flooder = bus.dealer(c.bus)
    burst = 500 if quick else 2000
    for i in range(burst):
        bus.send(flooder, [TAG, b"LAUNCH", b"{}"] if i % 2 else [b"NOPE", b"HELLO", b"{}"])
    time.sleep(2)
    added = bus.warning_lines() - before
    part.check("log-flood-rate-limited", added <= LOG_LINES_BOUND,
               f"{burst} malformed messages from one peer wrote {added} warning lines (at most {LOG_LINES_BOUND})")

    # Random frames from several connections.
    socks = [bus.dealer(c.bus) for _ in range(4)]
    for i in range(300 if quick else 1500):
        n = rng.randint(1, 5)
        frames = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 256))) for _ in range(n)]
        if rng.random() < 0.5:
            frames[0] = TAG
            if n > 1:
                frames[1] = rng.choice(COMMANDS)
        bus.send(socks[i % 4], frames)

    # Every command with every bad body, from an unregistered connection.
    stranger = bus.dealer(c.bus)
    for command in COMMANDS:
        for body in bad_bodies(rng):
            bus.send(stranger, [TAG, command, body])
    part.check("alive-after-garbage", alive(), "the server process is alive" if alive() else "the server died")

    # A registered connection (credit drained, so no real job is sent to it) sends the same.
    fake = bus.dealer(c.bus)
    bus.send(fake, [TAG, b"HELLO", json.dumps(hello(token)).encode()])
    welcome = wait_for(bus, fake, b"WELCOME", 10)
    part.check("fake-worker-welcomed", welcome is not None, "a valid HELLO was answered" if welcome else
               "a valid HELLO got no WELCOME within 10 s")
    bus.send(fake, [TAG, b"DRAIN", b"{}"])
    for command in COMMANDS:
        if command == b"HELLO":
            continue  # a valid HELLO would clear the drain
        for body in bad_bodies(rng):
            bus.send(fake, [TAG, command, body])
    # A FETCH flood for a job this worker does not run: each refused, none read, nothing kept.
    # The garbage above included a BYE, which ends a registration: register again first.
    while bus.receive(fake, 200) is not None:
        pass
    bus.send(fake, [TAG, b"HELLO", json.dumps(hello(token)).encode()])
    wait_for(bus, fake, b"WELCOME", 10)
    bus.send(fake, [TAG, b"DRAIN", b"{}"])
    fetch = json.dumps({"job_id": str(uuid.uuid4()), "attempt": 1, "file_id": str(uuid.uuid4()), "offset": 0,
                        "length": 262144}).encode()
    for _ in range(200 if quick else 2000):
        bus.send(fake, [TAG, b"FETCH", fetch])
    answer = wait_for(bus, fake, b"FILE", 10)
    code = (json.loads(answer[2]).get("error") or {}).get("code") if answer and len(answer) == 3 else None
    part.check("fetch-not-running", code == "not_running",
               f"a FETCH for a job the worker does not run: {code or 'no FILE answer within 10 s'}")
    bus.send(fake, [TAG, b"BYE", b"{}"])
    part.check("alive-after-registered-garbage", alive(), "alive" if alive() else "the server died")

    # A frame over the 16 MiB limit costs its sender the connection, nothing else.
    big = bus.dealer(c.bus)
    bus.send(big, [TAG, b"HELLO", b" " * ((16 << 20) + 1)])
    time.sleep(1)
    part.check("oversized-frame", alive(), "alive after a 16 MiB + 1 frame" if alive() else "the server died")

    # Memory before authentication (7): concurrent HELLOs just under 16 MiB.
    count = 10 if quick else 30
    senders = [bus.dealer(c.bus) for _ in range(count)]
    payload = json.dumps(hello(token, name="x" * ((16 << 20) - 4096))).encode()
    base, peak = memory_burst(bus, senders, lambda i: [TAG, b"HELLO", payload])
    part.check("hello-16MiB-memory", peak - base <= HELLO_MEMORY_BOUND_MIB and alive(),
               f"{count} concurrent 16 MiB HELLOs: server RSS {base:.0f} -> {peak:.0f} MiB "
               f"(+{peak - base:.0f}, at most +{HELLO_MEMORY_BOUND_MIB})" + ("" if alive() else "; the server died"))
    for s in senders:
        s.close(linger=0)

    api_cases(part, bus, c, rng, quick)

    # Afterwards: alive, a valid HELLO answered, a job end to end.
    part.check("server-alive", alive(), "alive" if alive() else "the server died")
    crashes = sum(not p.alive() for p in c.procs.values())
    part.counters["crashes"] = crashes
    fresh = bus.dealer(c.bus)
    bus.send(fresh, [TAG, b"HELLO", json.dumps(hello(token, slots=1)).encode()])
    welcomed = wait_for(bus, fresh, b"WELCOME", 10) is not None
    part.check("valid-hello-answered", welcomed, "WELCOME within 10 s" if welcomed else "no WELCOME within 10 s")
    bus.send(fresh, [TAG, b"BYE", b"{}"])
    r = c.client(timeout=60).post("/api/v1/projects/default/jobs?wait=30",
                                  {"code": "def main(x):\n    return x * 2", "inputs": {"x": 21}},
                                  token=c.admin_token)
    job = r.json or {}
    part.check("job-end-to-end", job.get("status") == "succeeded" and job.get("result") == 42,
               f"a job after the garbage: {r.status} {job.get('status')} {job.get('result')} {job.get('error') or ''}")


def wait_for(bus, sock, command, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = bus.receive(sock, 200)
        if message and len(message) >= 2 and message[1] == command:
            return message
    return None


def api_request(op, params=None, client=None, token=None, rid=None):
    header = {"id": rid or str(uuid.uuid4()), "op": op, "params": params or {}}
    if client is not None:
        header["client"] = client
    if token:
        header["token"] = token
    return header


def api_cases(part, bus, c, rng, quick):
    api = bus.dealer(c.api, maxmsg=-1)
    headers = [b"", b"{", b"null", b"[]", b'{"id": 1}', b'{"id": "1"}', b'{"id": "1", "op": "nope", "params": {}}',
               b'{"id": "1", "op": "jobs.get", "params": {"id": 5}}', b'{"id": "1", "op": "me", "params": {}, '
               b'"token": 12}', b'{"id": "1", "op": "health", "params": null}', b"[" * 100_000,
               b'{"id": "1", "op": "jobs.list", "params": {"project": "default", "limit": "1e400"}}',
               json.dumps(api_request("auth.login", client="\u0000")).encode()]
    for header in headers:
        for body in (b"", b"{}", b"\xff", b"[" * 1000):
            bus.send(api, [API_TAG, header, body])
    for _ in range(100 if quick else 400):
        frames = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 128))) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.5:
            frames[0] = API_TAG
        bus.send(api, frames)
    answered = 0
    while bus.receive(api, 500) is not None:
        answered += 1
    alive = c.procs["server"].alive()
    part.check("api-garbage", alive, f"alive; {answered} answers to the garbage" if alive else "the server died")

    # A forged client address (8): refused, or at least not written to the audit log as sent.
    forged = "203.0.113.9<script>"
    sock = bus.dealer(c.api)
    bus.send(sock, [API_TAG, json.dumps(api_request("auth.login", client=forged)).encode(),
                    json.dumps({"email": "admin@localhost", "password": "wrong-password"}).encode()])
    reply = bus.receive(sock, 10_000)
    status = json.loads(reply[-2]).get("status") if reply and len(reply) >= 3 else None
    audit = c.client().get("/api/v1/audit?action=auth.", token=c.admin_token)
    recorded = forged in audit.text
    ok = status == 400 or reply is None or not recorded
    part.check("api-forged-client", ok and not recorded,
               f"login with client {forged!r}: " + ("no answer" if reply is None else f"status {status}") +
               ("; the audit log recorded it as the client address" if recorded else "; not recorded as given"))

    # In-flight bytes (8): concurrent 60 MiB requests.
    count = 6 if quick else 12
    senders = [bus.dealer(c.api, maxmsg=-1) for _ in range(count)]
    body = b'{"email": "' + b"a" * (60 << 20) + b'", "password": "x"}'
    base, peak = memory_burst(bus, senders, lambda i: [API_TAG, json.dumps(api_request("auth.login",
                                                                                      client="127.0.0.1")).encode(), body])
    alive = c.procs["server"].alive()
    part.check("api-60MiB-memory", peak - base <= API_MEMORY_BOUND_MIB and alive,
               f"{count} concurrent 60 MiB API requests: server RSS {base:.0f} -> {peak:.0f} MiB "
               f"(+{peak - base:.0f}, at most +{API_MEMORY_BOUND_MIB})" + ("" if alive else "; the server died"))
    for s in senders:
        s.close(0)

    # Requests just under the API socket's 41 MiB limit are read, so libzmq buffers each one
    # whole (until gateways authenticate at the handshake, that is bounded per connection);
    # past that the server holds at most its in-flight budget, and gives the memory back after.
    senders = [bus.dealer(c.api, maxmsg=-1) for _ in range(count)]
    body = b'{"email": "' + b"a" * ((40 << 20) - 64) + b'", "password": "x"}'
    base, peak = memory_burst(bus, senders, lambda i: [API_TAG, json.dumps(api_request("auth.login",
                                                                                      client="127.0.0.1")).encode(), body])
    # Settled: once every request has its answer (400 or 503), the memory is given back.
    for s in senders:
        bus.receive(s, 60_000)
    time.sleep(1)
    settled = bus.rss()
    bound = count * 41 + API_IN_FLIGHT_MIB + 64
    alive = c.procs["server"].alive()
    part.check("api-40MiB-memory", peak - base <= bound and settled - base <= 64 and alive,
               f"{count} concurrent 40 MiB API requests: server RSS {base:.0f} -> peak {peak:.0f} (at most +{bound}), "
               f"then {settled:.0f} MiB (at most +64)" + ("" if alive else "; the server died"))
    for s in senders:
        s.close(0)


def summary(part):
    n = part.counters
    return (f"bus garbage {n.get('frames', 0)} frames {n.get('crashes', 0)} crashes" +
            (f" {len(part.failed)} failed" if part.failed else ""))
