"""Chaos: jobs `main(x, s)` returning 2x after sleeping s seconds, each with distinct inputs,
submitted over HTTP while cloud workers are SIGKILLed at random and started again, and the
server is SIGKILLed twice and started again on the same data directory and ports. A worker's
death puts its running jobs back in the queue with the attempt counted (docs/PROTOCOL.md
§5.4), so every job is submitted with max_attempts 10 (the most allowed), and with an
idempotency key so that a submit retried across a server restart makes one job. At the end
every job must have succeeded with its own right result: 0 lost, 0 wrong, 0 failed."""

import collections
import concurrent.futures
import os
import random
import signal
import threading
import time

from . import httpc
from .cluster import _children

NAME = "chaos"
CODE = "import time\n\ndef main(x, s):\n    time.sleep(s)\n    return x * 2\n"
HEARTBEAT_MS = 500
WORKERS, SLOTS = 4, 2


def time_bound(quick):
    return 180 if quick else 420


def sizes(quick):
    """(jobs, submits per second, seconds to finish after the last submit)."""
    return (150, 30, 90) if quick else (1000, 25, 240)


class Chaos:
    def __init__(self, c, jobs, rate, part):
        self.c, self.jobs, self.rate, self.part = c, jobs, rate, part
        self.rng = random.Random(12)
        self.ids = [None] * jobs
        self.submit_errors = collections.Counter()
        self.worker_kills = self.server_kills = 0
        self.done = threading.Event()
        self.calm = threading.Event()  # no more killing
        self.finished = 0
        self.run_tag = f"{int(time.time())}"
        self.lock = threading.Lock()

    # -- submitting -----------------------------------------------------------------------

    def submit(self, i, deadline):
        body = {"code": CODE, "inputs": {"x": i, "s": round(random.Random(i).uniform(0, 0.5), 3)}, "max_attempts": 10,
                "idempotency_key": f"chaos-{self.run_tag}-{i}"}
        client = httpc.Client(self.c.gateway, timeout=30)
        while time.monotonic() < deadline:
            try:
                r = client.post("/api/v1/projects/default/jobs", body, token=self.c.admin_token)
            except (httpc.Hang, OSError) as error:
                self.submit_errors[type(error).__name__] += 1
                time.sleep(0.5)
                continue
            if r.status in (200, 202):
                self.ids[i] = r.json["id"]
                return
            self.submit_errors[r.status] += 1
            if r.status == 429:
                time.sleep(min(float(r.header("Retry-After") or 1), 10))
            else:
                time.sleep(0.5 if r.status >= 500 else 2)

    def submit_all(self, deadline):
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = []
            for i in range(self.jobs):
                pause = start + i / self.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                futures.append(pool.submit(self.submit, i, deadline))
            for f in futures:
                f.result()

    # -- killing --------------------------------------------------------------------------

    def kill_loop(self):
        """A worker SIGKILLed every 1-3 s and started again; the server SIGKILLed when a
        third and when two thirds of the jobs have finished."""
        server_marks = [self.jobs // 3, 2 * self.jobs // 3]
        while not self.calm.wait(self.rng.uniform(1.0, 3.0)):
            if server_marks and self.finished >= server_marks[0]:
                server_marks.pop(0)
                self.kill_server()
                continue
            name = f"w{self.rng.randint(1, WORKERS)}"
            self.c.procs[name].kill(signal.SIGKILL)
            self.worker_kills += 1
            time.sleep(self.rng.uniform(0.2, 1.0))
            self.c.start_worker(name, slots=SLOTS)
        # Whatever the time, both server restarts happen before the calm ends the chaos.
        while server_marks:
            server_marks.pop(0)
            self.kill_server()

    def kill_server(self):
        self.c.procs["server"].kill(signal.SIGKILL)
        self.server_kills += 1
        time.sleep(self.rng.uniform(0.5, 2.0))
        self.c.start_server()
        print(f"  chaos: server SIGKILLed and started again ({self.server_kills})", flush=True)

    # -- watching -------------------------------------------------------------------------

    def list_jobs(self):
        """Every job of the project (newest first, paged), or None while the server is away."""
        client = httpc.Client(self.c.gateway, timeout=30)
        jobs, cursor = {}, None
        while True:
            path = "/api/v1/projects/default/jobs?limit=200" + (f"&cursor={cursor}" if cursor else "")
            try:
                r = client.get(path, token=self.c.admin_token)
            except (httpc.Hang, OSError):
                return None
            if r.status != 200:
                return None
            for job in r.json["jobs"]:
                jobs[job["id"]] = job
            cursor = r.json.get("next_cursor")
            if not cursor:
                return jobs

    def progress(self, jobs):
        ours = [jobs.get(i) for i in self.ids if i]
        return sum(1 for j in ours if j and j["status"] not in ("queued", "running"))


def orphans(c):
    """Processes re-parented to this one that none of ours started: what SIGKILLed workers
    left running (fork servers, sandboxes)."""
    ours = {p.pid for p in list(c.procs.values()) + c.retired}
    out = []
    for pid in _children(os.getpid(), zombies=False):
        if pid not in ours:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    out.append((pid, f.read().replace(b"\0", b" ")[:80].decode(errors="replace")))
            except OSError:
                pass
    return out


def run(part, ctx):
    run_with(part, ctx.cluster("chaos", heartbeat_ms=HEARTBEAT_MS), Chaos, ctx.quick)


def run_with(part, c, chaos_class, quick):
    """The chaos on cluster `c` (booted here), killing as `chaos_class` does."""
    jobs, rate, settle = sizes(quick)
    c.boot(workers=[f"w{i}" for i in range(1, WORKERS + 1)], slots=SLOTS)
    chaos = chaos_class(c, jobs, rate, part)
    start = time.monotonic()
    submit_deadline = start + jobs / rate + 90
    killer = threading.Thread(target=chaos.kill_loop, daemon=True)
    killer.start()
    submitter = threading.Thread(target=chaos.submit_all, args=(submit_deadline,), daemon=True)
    submitter.start()

    # Kill while jobs are being submitted and run; then calm, and wait for the rest.
    chaos_until = start + jobs / rate + 10
    deadline = start + jobs / rate + settle
    listed = {}
    while time.monotonic() < deadline:
        time.sleep(2)
        now = chaos.list_jobs()
        if now is not None:
            listed = now
            chaos.finished = chaos.progress(listed)
        if time.monotonic() > chaos_until:
            chaos.calm.set()
        settled = not submitter.is_alive() and not killer.is_alive() and now is not None
        if settled and chaos.finished == sum(1 for i in chaos.ids if i):
            break
    chaos.calm.set()
    killer.join(30)
    submitter.join(5)
    final = chaos.list_jobs() or listed
    leftover = orphans(c)
    tally(part, chaos, final, time.monotonic() - start, leftover)


def tally(part, chaos, listed, took, leftover):
    lost, wrong, failed = [], [], []
    attempts = collections.Counter()
    for i, job_id in enumerate(chaos.ids):
        job = listed.get(job_id) if job_id else None
        if job is None:
            lost.append(f"#{i}: " + ("never accepted" if job_id is None else "missing from the list"))
            continue
        attempts[job["attempts"]] += 1
        status = job["status"]
        if status in ("queued", "running"):
            lost.append(f"#{i} {job_id}: still {status} after {job['attempts']} attempts")
        elif status == "succeeded" and job["result"] != 2 * i:
            wrong.append(f"#{i} {job_id}: result {job['result']!r}, expected {2 * i}")
        elif status != "succeeded":
            failed.append(f"#{i} {job_id}: {status} ({job.get('error')}) after {job['attempts']} attempts")
    duplicates = len([j for j in listed.values() if j.get("idempotency_key", "") and
                      j["idempotency_key"].startswith(f"chaos-{chaos.run_tag}-")]) - len([i for i in chaos.ids if i])
    part.counters.update(jobs=chaos.jobs, lost=len(lost), wrong=len(wrong), failed=len(failed))
    print(f"  chaos: {chaos.jobs} jobs in {took:.0f} s; {chaos.worker_kills} worker SIGKILLs, {chaos.server_kills} server "
          f"SIGKILLs; attempts {dict(sorted(attempts.items()))}; submit retries {dict(chaos.submit_errors)}", flush=True)
    early = [f"#{i}: started {(httpc.parse_time(j['started_at']) - httpc.parse_time(j['created_at'])).total_seconds() * 1000:+.0f} ms "
             f"from created_at" for i, j in ((i, listed.get(x)) for i, x in enumerate(chaos.ids) if x)
             if j and j.get("started_at") and httpc.parse_time(j["started_at"]) < httpc.parse_time(j["created_at"])]
    part.check("started-after-created", not early, f"{len(early)} jobs started before they were created"
               + (f": {early[:3]}" if early else ""))
    for label, items in (("lost", lost), ("wrong", wrong), ("failed", failed)):
        part.check(f"no-{label}", not items, f"{len(items)} {label}" + (f": {items[:5]}" if items else ""))
    part.check("server-killed-twice", chaos.server_kills >= 2, f"{chaos.server_kills} server SIGKILLs")
    part.check("no-duplicate-jobs", duplicates <= 0, f"{max(duplicates, 0)} jobs beyond one per idempotency key")
    if leftover:
        part.note(f"{len(leftover)} processes left running by SIGKILLed workers (re-parented): {leftover[:3]}")


def summary(part):
    n = part.counters
    if "jobs" not in n:
        return f"chaos did not finish ({len(part.failed)} failed)"
    return f"chaos {n['jobs']} jobs {n['lost']} lost {n['wrong']} wrong {n['failed']} failed"
