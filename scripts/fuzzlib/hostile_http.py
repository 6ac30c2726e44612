"""Hostile HTTP against the gateway, over raw sockets where framing matters. Each case says
pass or fail with its reason; the section headings name the defect of issue 11 it checks.

The gateway of this part runs with 4,096 descriptors (RLIMIT_NOFILE), as many hosts give a
service, so that the slowloris flood can be larger than its limit at little cost."""

import concurrent.futures
import json
import os
import resource
import selectors
import socket
import threading
import time
import urllib.error
import urllib.request

from . import httpc
from .cluster import ADMIN_EMAIL
from .openapi import Document

NAME = "hostile-http"
GATEWAY_NOFILE = 4096
LOGIN = "/api/v1/auth/login"
SUBMIT = "/api/v1/projects/default/jobs"
HEADER_TIMEOUT_BOUND = 30  # s a connection that never finishes its head may stay open
IDLE_TIMEOUT_BOUND = 75    # s an idle keep-alive connection may stay open: the gateway's 60 s idle timeout, counted
                           # from its last response, and room for a loaded machine
OVERSIZE_TIMEOUT = 20      # s urllib may wait for its 413
STARVATION_FLOOD = 1100    # unrunnable jobs one plain user submits
QUEUED_PER_USER = 1000     # the server's per-user limit on queued jobs in this part


def time_bound(quick):
    return 240 if quick else 360


class Ctx:
    """What the cases share: the cluster, an admin token, the document, and every status
    the plain client saw (for the check that each one is documented)."""

    def __init__(self, c, quick):
        self.c, self.quick = c, quick
        self.seen = []
        self.token = c.admin_token
        self.doc = Document(self.client().get("/api/v1/openapi.json").json)

    def client(self, source=None, timeout=30):
        return httpc.Client(self.c.gateway, timeout=timeout, source=source,
                            observe=lambda m, p, s: self.seen.append((m, p, s)))

    def call(self, method, path, body=None, token="admin", **kw):
        token = self.token if token == "admin" else token
        return self.client().request(method, path, body=body, token=token, **kw)

    def job(self, code, inputs=None, wait=60, token="admin", **extra):
        """Submits and waits for the job; a 429 is waited out as its Retry-After says (30 s at most)."""
        body = {"code": code, **({"inputs": inputs} if inputs is not None else {}), **extra}
        give_up = time.monotonic() + 30
        while True:
            r = self.call("POST", f"{SUBMIT}?wait={wait}", body, token=token, timeout=wait + 30)
            if r.status != 429 or time.monotonic() > give_up:
                return r
            time.sleep(min(float(r.header("Retry-After") or 1), 5))


# -- framing (defect 2) ------------------------------------------------------------------

def head(method, path, headers=(), host="fuzz"):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


FRAMING = [
    # name, raw request, statuses expected, JSON error body required
    ("bad-chunk-size", head("POST", LOGIN, [("Transfer-Encoding", "chunked")]) + b"ZZZ\r\n{}\r\n0\r\n\r\n", {400}, True),
    ("transfer-encoding-gzip", head("POST", LOGIN, [("Transfer-Encoding", "gzip")]) + b"{}", {400}, True),
    ("unterminated-chunk", head("POST", LOGIN, [("Transfer-Encoding", "chunked")]) + b"a\r\n{}", {400}, True),
    ("short-body-then-close", head("POST", LOGIN, [("Content-Length", "100")]) + b"{}", {400}, True),
    ("head-80KB", head("POST", LOGIN, [("X-Pad", "a" * 80_000), ("Content-Length", "2")]) + b"{}", {431}, True),
    ("5000-headers", head("POST", LOGIN, [(f"X-H{i}", "v") for i in range(5000)] + [("Content-Length", "2")]) + b"{}",
     {431}, True),
    ("conflicting-content-length", head("POST", LOGIN, [("Content-Length", "2"), ("Content-Length", "5")]) + b"{}",
     {400}, True),
    ("negative-content-length", head("POST", LOGIN, [("Content-Length", "-1")]) + b"{}", {400}, True),
    ("non-numeric-content-length", head("POST", LOGIN, [("Content-Length", "2x")]) + b"{}", {400}, True),
    ("content-length-and-chunked", head("POST", LOGIN, [("Content-Length", "4"), ("Transfer-Encoding", "chunked")])
     + b"2\r\n{}\r\n0\r\n\r\n", None, True),
    ("huge-content-length", head("POST", LOGIN, [("Content-Length", "99999999999999999999999")]) + b"{}", {400, 413}, True),
    ("garbage-request-line", b"\x00\x01\x02 /\xff HTTP/1.1\r\n\r\n", {400}, False),
]


def framing_case(ctx, data, statuses, json_required):
    response, note = httpc.raw_exchange(ctx.c.gateway, data, timeout=10)
    if response is None:
        return False, f"no answer: {note}"
    if response.status >= 500:
        return False, f"{response.brief()}"
    if statuses is not None and response.status not in statuses:
        return False, f"expected {sorted(statuses)}, got {response.brief()}"
    if json_required and response.status >= 400 and not response.is_json_error():
        return False, f"{response.status} without the JSON error body: {response.body[:120]!r}"
    return True, f"{response.status}" + (f" ({note})" if note else "")


# -- look-alikes (defect 6) and NUL (defect 1) -------------------------------------------

def expect_400(response):
    if response.status == 400 and response.is_json_error():
        return True, "refused: " + response.json["error"]["message"][:80]
    return False, f"accepted or wrong answer: {response.brief()}"


def lookalike_cases(ctx):
    n = iter(range(1000))
    user = lambda email, name="Fuzz": ctx.call("POST", "/api/v1/users",
                                               {"email": email, "password": "password-123", "name": name})
    cases = [
        ("email-cyrillic-a", lambda: expect_400(user("admin@ex\u0430mple.com"))),
        ("email-zero-width-space", lambda: expect_400(user("zw\u200bsp@example.com"))),
        ("email-right-to-left-override", lambda: expect_400(user("rlo\u202eexample@example.com"))),
        ("user-name-zero-width-space", lambda: expect_400(user(f"n{next(n)}@example.com", "Ad\u200bmin"))),
        ("user-name-right-to-left-override", lambda: expect_400(user(f"n{next(n)}@example.com", "Ad\u202emin"))),
        ("team-name-zero-width-space", lambda: expect_400(ctx.call("POST", "/api/v1/teams", {"name": "te\u200bam"}))),
        ("project-name-bidi", lambda: expect_400(ctx.call("POST", "/api/v1/projects", {"name": "pro\u202eject"}))),
        ("skill-name-zero-width-space", lambda: expect_400(ctx.call(
            "POST", "/api/v1/projects/default/skills", {"name": "sk\u200bill", "code": "def main():\n    return 1"}))),
        ("file-name-bidi", lambda: expect_400(ctx.call(
            "POST", "/api/v1/projects/default/files?name=" + urllib.request.quote("invoice\u202etxt.exe"), raw=b"x",
            content_type="text/plain"))),
    ]

    def same_account(first, second):
        a = user(first)
        if a.status != 201:
            return False, f"creating {first!r} answered {a.brief()}"
        b = user(second)
        if b.status in (400, 409):
            return True, f"{second!r} after {first!r}: {b.status}"
        return False, f"{second!r} became a second account next to {first!r}: {b.brief()}"

    cases += [
        ("email-case-folded", lambda: same_account("Case.Fold@Example.com", "case.fold@EXAMPLE.COM")),
        ("email-nfkc-fullwidth", lambda: same_account("full@example.com", "\uff46\uff55\uff4c\uff4c@example.com")),
    ]
    return cases


NUL_CODE = "def main():\n    return 7\n\0raise SystemExit(5)\n"


def stored_exactly(sent, read, what):
    if read == sent:
        return True, f"{what} stored exactly"
    return False, f"{what} accepted but stored as {read!r} (sent {sent!r})"


def nul_field(create, read_back, sent, what):
    r = create()
    if r.status == 400:
        return True, "refused with 400"
    if r.status >= 300:
        return False, f"unexpected {r.brief()}"
    return stored_exactly(sent, read_back(r.json), what)


def nul_cases(ctx):
    call = ctx.call
    n = iter(range(1000))

    def user_name():
        email = f"nul{next(n)}@example.com"
        return nul_field(lambda: call("POST", "/api/v1/users", {"email": email, "password": "password-123",
                                                                "name": "a\0b"}),
                         lambda u: next(x["name"] for x in call("GET", "/api/v1/users").json["users"] if x["id"] == u["id"]),
                         "a\0b", "user name")

    def user_email():
        email = f"nul\0{next(n)}@example.com"
        return nul_field(lambda: call("POST", "/api/v1/users", {"email": email, "password": "password-123", "name": "N"}),
                         lambda u: next(x["email"] for x in call("GET", "/api/v1/users").json["users"] if x["id"] == u["id"]),
                         email, "e-mail")

    def skill(field):
        name = f"nul-{field}-{next(n)}"
        body = {"name": name, "description": "d\0e" if field == "description" else "d",
                "code": NUL_CODE if field == "code" else "def main():\n    return 1\n"}
        sent = body[field]

        def read_back(_):
            got = call("GET", f"/api/v1/projects/default/skills/{name}").json
            return got["latest"]["code"] if field == "code" else got["description"]
        return nul_field(lambda: call("POST", "/api/v1/projects/default/skills", body), read_back, sent, f"skill {field}")

    def session_title():
        return nul_field(lambda: call("POST", "/api/v1/projects/default/sessions", {"title": "t\0u"}),
                         lambda s: call("GET", f"/api/v1/sessions/{s['id']}").json["title"], "t\0u", "session title")

    def message_content():
        session = call("POST", "/api/v1/projects/default/sessions", {"title": "nul"}).json["id"]
        return nul_field(lambda: call("POST", f"/api/v1/sessions/{session}/messages", {"role": "user", "content": "c\0d"}),
                         lambda m: call("GET", f"/api/v1/sessions/{session}/messages").json["messages"][-1]["content"],
                         "c\0d", "message content")

    def token_name():
        return nul_field(lambda: call("POST", "/api/v1/tokens", {"name": "t\0n"}),
                         lambda t: next(x["name"] for x in call("GET", "/api/v1/tokens").json["tokens"] if x["id"] == t["id"]),
                         "t\0n", "token name")

    def provider_key():
        name = f"nulp{next(n)}"
        return nul_field(lambda: call("POST", "/api/v1/projects/default/providers",
                                      {"name": name, "kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                                       "api_key": "sk-\0x", "models": ["m"]}),
                         lambda p: call("POST", f"/api/v1/projects/default/providers/{name}/reveal").json["api_key"],
                         "sk-\0x", "provider api_key")

    def agent_prompt():
        provider = f"nula{next(n)}"
        call("POST", "/api/v1/projects/default/providers", {"name": provider, "kind": "openai",
                                                            "base_url": "http://127.0.0.1:9/v1", "api_key": "k",
                                                            "models": ["m"]})
        name = f"nulag{next(n)}"
        return nul_field(lambda: call("POST", "/api/v1/projects/default/agents",
                                      {"name": name, "provider": provider, "model": "m", "system_prompt": "s\0p"}),
                         lambda a: call("GET", f"/api/v1/projects/default/agents/{name}").json["system_prompt"],
                         "s\0p", "agent system_prompt")

    def job_code():
        r = ctx.job(NUL_CODE, wait=60)
        if r.status == 400:
            return True, "refused with 400"
        job = r.json or {}
        if job.get("status") == "succeeded" and job.get("result") == 7:
            return False, "the code was cut at NUL: the job succeeded with 7 instead of failing on the NUL"
        if job.get("status") in ("queued", "running"):
            return False, f"the job did not end within 60 s ({job.get('status')})"
        return True, f"the code ran whole ({job.get('status')}: {str(job.get('error'))[:60]})"

    def job_input():
        r = ctx.job("def main(s):\n    return [s, len(s)]\n", {"s": "a\0b"}, wait=60)
        if r.status == 400:
            return True, "refused with 400"
        job = r.json or {}
        if job.get("result") == ["a\0b", 3]:
            return True, "the input reached the job and came back exactly"
        return False, f"the job saw or returned something else: {job.get('status')} {job.get('result')!r} {job.get('error')}"

    def file_name():
        r = call("POST", "/api/v1/projects/default/files?name=a%00b.txt", raw=b"x", content_type="text/plain")
        if r.status == 400:
            return True, "refused with 400"
        return stored_exactly("a\0b.txt", (r.json or {}).get("name"), "file name")

    def team_name():
        return nul_field(lambda: call("POST", "/api/v1/teams", {"name": "t\0x"}),
                         lambda t: t.get("name"), "t\0x", "team name")

    return [("user-name", user_name), ("user-email", user_email), ("skill-description", lambda: skill("description")),
            ("skill-code", lambda: skill("code")), ("session-title", session_title),
            ("message-content", message_content), ("token-name", token_name), ("provider-api-key", provider_key),
            ("agent-system-prompt", agent_prompt), ("job-code", job_code), ("job-input", job_input),
            ("file-name", file_name), ("team-name", team_name)]


# -- huge numbers and deep nesting --------------------------------------------------------

HUGE = {"1e400": "1e400", "2^64": "18446744073709551616", "-2^63-1": "-9223372036854775809"}


def raw_json_post(ctx, path, text, token="admin"):
    return ctx.call("POST", path, raw=text.encode(), token=token)


def huge_number_cases(ctx):
    cases = []
    fields = [("max_attempts", '{"code": "x", "max_attempts": %s}'),
              ("priority", '{"code": "x", "priority": %s}'),
              ("limits.timeout_s", '{"code": "x", "limits": {"timeout_s": %s}}'),
              ("limits.memory_mb", '{"code": "x", "limits": {"memory_mb": %s}}'),
              ("limits.max_output_kb", '{"code": "x", "limits": {"max_output_kb": %s}}')]
    for field, template in fields:
        for label, number in HUGE.items():
            cases.append((f"job-{field}-{label}",
                          lambda t=template, v=number: expect_400(raw_json_post(ctx, SUBMIT, t % v))))
    for label, number in HUGE.items():
        cases.append((f"token-expires_in-{label}",
                      lambda v=number: expect_400(raw_json_post(ctx, "/api/v1/tokens", '{"name": "h", "expires_in": %s}' % v))))
    for label, number in HUGE.items():
        cases.append((f"query-limit-{label}", lambda v=number: expect_400(ctx.call("GET", f"{SUBMIT}?limit={v}"))))
        cases.append((f"query-wait-{label}", lambda v=number: expect_400(ctx.call("GET", f"/api/v1/jobs/x?wait={v}"))))

    def in_inputs():
        r = raw_json_post(ctx, SUBMIT + "?wait=30", '{"code": "def main(n):\\n    return n", "inputs": {"n": 1e400}}')
        if r.status >= 500:
            return False, r.brief()
        if r.status == 400:
            return True, "refused with 400"
        got = ctx.call("GET", f"/api/v1/jobs/{r.json['id']}")
        return got.status == 200, f"accepted; the job reads back {got.status}"

    def version_path():
        r = ctx.call("GET", "/api/v1/projects/default/skills/none/versions/18446744073709551616")
        return r.status in (400, 404) and r.is_json_error(), r.brief()

    cases += [("job-inputs-1e400", in_inputs), ("skill-version-2^64-in-path", version_path)]
    return cases


def nesting_cases(ctx):
    depth = 100_000

    def deep(path, text, ok_statuses=(400,)):
        def case():
            r = raw_json_post(ctx, path, text)
            alive = all(p.alive() for p in (ctx.c.procs["server"], ctx.c.procs["gateway"]))
            if not alive:
                return False, "a process died: " + ", ".join(n for n, p in ctx.c.procs.items() if not p.alive())
            if r.status in ok_statuses and r.is_json_error():
                return True, f"{r.status}: {r.json['error']['message'][:60]}"
            return False, r.brief()
        return case

    return [
        ("login-100k-brackets", deep(LOGIN, "[" * depth)),
        ("submit-100k-braces", deep(SUBMIT, '{"a":' * depth)),
        ("inputs-100k-deep-array", deep(SUBMIT, '{"code": "x", "inputs": {"a": ' + "[" * depth + "]" * depth + "}}",
                                        (400, 413))),
    ]


# -- oversized bodies (defect 10) ---------------------------------------------------------

def urllib_413(ctx, path, size, content_type):
    body = b'{"code": "' + b"x" * (size - 12) + b'"}'
    request = urllib.request.Request(ctx.c.url + path, data=body, method="POST",
                                     headers={"Authorization": "Bearer " + ctx.token, "Content-Type": content_type})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=OVERSIZE_TIMEOUT) as answer:
            return False, f"accepted with {answer.status}"
    except urllib.error.HTTPError as error:
        payload = error.read()
        took = time.monotonic() - start
        ok = error.code == 413
        return ok, f"{error.code} after {took:.1f} s" + ("" if ok else f": {payload[:100]!r}")
    except (urllib.error.URLError, ConnectionError, socket.timeout) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise httpc.Hang(f"urllib posting {size >> 20} MiB saw no answer within {OVERSIZE_TIMEOUT} s "
                             f"(the gateway stopped reading without answering)")
        return False, f"the client never read the 413: {reason!r} after {time.monotonic() - start:.1f} s"


# -- login throttling (defect 4) ----------------------------------------------------------

def throttle_cases(ctx):
    email, password = "throttled@example.com", "right-password-1"
    ctx.c.create_user(email, password)

    def locked_out():
        attacker = ctx.client(source="127.0.0.2")
        statuses = [attacker.post(LOGIN, {"email": email, "password": f"wrong-{i}"}).status for i in range(10)]
        r = ctx.client(source="127.0.0.1").post(LOGIN, {"email": email, "password": password})
        return r.status == 200, (f"the right password from 127.0.0.1 answered {r.status} after 10 wrong ones from "
                                 f"127.0.0.2 ({statuses})")

    def attacker_slowed():
        attacker = ctx.client(source="127.0.0.2")
        seen = []
        for i in range(30):
            r = attacker.post(LOGIN, {"email": email, "password": f"wrong-again-{i}"})
            seen.append(r.status)
            if r.status == 429 or r.elapsed >= 1.0:
                return True, f"attempt {i + 11} from 127.0.0.2: {r.status} after {r.elapsed:.1f} s"
        return False, f"40 wrong passwords from one address were never slowed or refused ({sorted(set(seen))})"

    return [("not-locked-from-elsewhere", locked_out), ("attacker-still-throttled", attacker_slowed)]


# -- starvation (defect 5) ----------------------------------------------------------------

def starvation_cases(ctx, flood_size):
    c = ctx.c
    c.create_user("flooder@example.com", "flooder-password-1")
    flooder = c.login("flooder@example.com", "flooder-password-1")
    r = ctx.call("POST", "/api/v1/projects", {"name": "flood"}, token=flooder)
    assert r.status == 201, r.brief()
    outcome = {"statuses": {}, "retry_after": False, "priority_refused": False}

    def submit(i):
        body = {"code": "def main():\n    return 0", "labels": ["no-worker-has-this"], "priority": 1000}
        r = ctx.call("POST", "/api/v1/projects/flood/jobs", body, token=flooder)
        if r.status in (400, 403) and "priority" in r.text:
            outcome["priority_refused"] = True
            body.pop("priority")
            r = ctx.call("POST", "/api/v1/projects/flood/jobs", body, token=flooder)
        if r.status == 429 and r.header("Retry-After"):
            outcome["retry_after"] = True
        return r.status

    def flood():
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(submit, range(flood_size)))
        for s in statuses:
            outcome["statuses"][s] = outcome["statuses"].get(s, 0) + 1
        limited = outcome["statuses"].get(429, 0)
        if any(s >= 500 for s in statuses):
            return False, f"5xx while flooding: {outcome['statuses']}"
        over = outcome["statuses"].get(202, 0) - QUEUED_PER_USER
        return limited > 0 and outcome["retry_after"], (
            f"{flood_size} queued jobs from one plain user: {outcome['statuses']}" +
            (f" ({over} accepted past the limit of {QUEUED_PER_USER})" if limited and over > 0 else "") +
            ("" if limited else f"; no 429 with Retry-After, though the server runs with "
                                f"AGENTOS_MAX_QUEUED_PER_USER={QUEUED_PER_USER}"))

    def other_project_runs(when):
        start = time.monotonic()
        r = ctx.job("def main():\n    return 'not starved'", wait=30)
        job = r.json or {}
        took = time.monotonic() - start
        # Generous: a starved job waits for the flood to be cancelled; a loaded machine is slow.
        ok = job.get("status") == "succeeded" and job.get("result") == "not starved" and took <= 25
        return ok, f"another project's job {when}: {job.get('status')} after {took:.1f} s" + (
            "" if ok else " (at most 25 s) beside a plain user's unrunnable flood at priority 1000")

    def flood_and_meanwhile():
        """The other project's job is submitted while the flood is being submitted."""
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            flooding = pool.submit(flood)
            time.sleep(1)
            during = other_project_runs("submitted during the flood")
            return flooding.result(), during

    results = {}

    def run_flood():
        results["flood"], results["during"] = flood_and_meanwhile()
        return results["flood"]

    return [("queued-flood-is-limited", run_flood),
            ("another-project-not-starved-during",
             lambda: results.get("during", (False, "the flood case did not finish"))),
            ("another-project-not-starved-after", lambda: other_project_runs("submitted after the flood"))]


# -- timestamps (defect 12) ---------------------------------------------------------------

def timestamps_case(ctx, count):
    def one(i):
        return ctx.job("def main(i):\n    return i", {"i": i}, wait=60).json or {}

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        jobs = list(pool.map(one, range(count)))
    bad = []
    for job in jobs:
        created, started, finished = (httpc.parse_time(job.get(k)) for k in ("created_at", "started_at", "finished_at"))
        if job.get("status") != "succeeded" or not (created and started and finished):
            bad.append(f"{job.get('id')}: {job.get('status')}")
        elif started < created or finished < started:
            bad.append(f"started_at {(started - created).total_seconds() * 1000:+.0f} ms from created_at")
    return not bad, f"{count} jobs" + (f"; {len(bad)} wrong: {bad[:3]}" if bad else ", every started_at >= created_at")


# -- documented statuses and names (defect 11) --------------------------------------------

def documented(ctx, method, path, response, what):
    declared = ctx.doc.declares(method, path, response.status)
    if declared is None:
        return False, f"{method} {path} is not in the document"
    return declared, f"{what}: {response.status}" + ("" if declared else f", not declared for {ctx.doc.operation(method, path)}")


def doc_cases(ctx):
    call = ctx.call

    def login_401():
        r = ctx.client().post(LOGIN, {"email": ADMIN_EMAIL, "password": "wrong-password"})
        return documented(ctx, "POST", LOGIN, r, "a wrong password")

    def refresh_401():
        r = ctx.client().post("/api/v1/auth/refresh", {"refresh_token": "aos_rt_not-a-token"})
        return documented(ctx, "POST", "/api/v1/auth/refresh", r, "an unknown refresh token")

    def unknown_team():
        r = call("POST", "/api/v1/projects", {"name": "orphan", "team": "no-such-team"})
        return documented(ctx, "POST", "/api/v1/projects", r, "an unknown team")

    def cancel_ended():
        job = ctx.job("def main():\n    return 1", wait=60).json
        r = call("POST", f"/api/v1/jobs/{job['id']}/cancel")
        return documented(ctx, "POST", f"/api/v1/jobs/{job['id']}/cancel", r, "cancelling an ended job")

    def last_owner():
        call("POST", "/api/v1/projects", {"name": "solo"})
        me = call("GET", "/api/v1/me").json["id"]
        r = call("DELETE", f"/api/v1/projects/solo/members/{me}")
        if r.status != 409:
            return False, f"removing the last owner answered {r.brief()}"
        return documented(ctx, "DELETE", f"/api/v1/projects/solo/members/{me}", r, "removing the last owner")

    def file_plus():
        r = call("POST", "/api/v1/projects/default/files?name=my+file.txt", raw=b"x", content_type="text/plain")
        name = (r.json or {}).get("name")
        return name == "my file.txt", f"?name=my+file.txt stored as {name!r}"

    def file_long():
        r = call("POST", "/api/v1/projects/default/files?name=" + "a" * 300, raw=b"x", content_type="text/plain")
        message = ((r.json or {}).get("error") or {}).get("message", "")
        ok = r.status == 400 and any(w in message for w in ("255", "long", "length", "bytes"))
        return ok, f"a 300-byte name: {r.status} {message!r}"

    def stream():
        """A finished job's event stream, parsed as schemathesis reads one: a list of
        {"event", "data", "id"?, "retry"?} objects, data as text."""
        job = ctx.job("def main():\n    print('out')\n    return {'a': 1}", wait=60).json
        r = call("GET", f"/api/v1/jobs/{job['id']}/events", timeout=20)
        events = []
        for block in r.text.replace("\r\n", "\n").split("\n\n"):
            event, data = {}, []
            for line in block.split("\n"):
                if not line or line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "data":
                    data.append(value)
                elif field in ("event", "id"):
                    event[field] = value
                elif field == "retry" and value.isdigit():
                    event[field] = int(value)
            if data:
                event["data"] = "\n".join(data)
                events.append(event)
        return r.status, events

    media = ctx.doc.doc["paths"]["/api/v1/jobs/{id}/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]

    def events_declared():
        """What the document says one event is (OpenAPI 3.0: the media type's schema; 3.2:
        itemSchema) must accept each event the gateway sends, as schemathesis checks."""
        status, events = stream()
        declared = media.get("itemSchema", media.get("schema", {}))
        schema = ctx.doc.convert(declared)
        problems = [f"{e.get('event')} event: {p[-60:]}" for e in events for p in ctx.doc.errors(schema, e)]
        return status == 200 and events and not problems, (
            f"{len(events)} events against the declared {json.dumps(declared)[:100]}" +
            (f"; {problems[:2]}" if problems else ": each accepted"))

    def events_data_valid():
        status, events = stream()
        named = {k: v["$ref"].rsplit("/", 1)[1] for k, v in media.get("x-events", {}).items() if "$ref" in v} or {
            "status": "JobStatusEvent", "output": "JobOutputEvent", "result": "JobResultEvent", "error": "StreamError"}
        problems, seen = [], []
        for event in events:
            seen.append(event.get("event"))
            if event.get("event") not in named:
                problems.append(f"undocumented event {event.get('event')!r}")
                continue
            try:
                errors = ctx.doc.validate(named[event["event"]], json.loads(event["data"]))
            except ValueError:
                errors = ["data is not JSON"]
            problems += [f"{event['event']}: {e}" for e in errors]
        ok = status == 200 and "result" in seen and not problems
        return ok, f"events {seen}" + (f"; {problems[:3]}" if problems else ", each one's data valid against its schema")

    return [("login-wrong-password", login_401), ("refresh-unknown-token", refresh_401),
            ("project-unknown-team", unknown_team), ("cancel-ended-job", cancel_ended),
            ("remove-last-owner", last_owner), ("file-name-plus-is-space", file_plus),
            ("file-name-300-bytes-says-length", file_long), ("events-declared-schema", events_declared),
            ("events-data-valid", events_data_valid)]


def every_status_documented(ctx):
    bad = {}
    for method, path, status in ctx.seen:
        if ctx.doc.declares(method, path, status) is False:
            bad.setdefault(f"{status} on {ctx.doc.operation(method, path)}", path)
    return not bad, f"{len(ctx.seen)} answers" + (f"; undeclared: {sorted(bad)}" if bad else ", all declared")


# -- floods and slowloris (defect 3) ------------------------------------------------------

class IdleHolder:
    """Connections that never finish their head, and idle keep-alive ones, from 127.0.0.4:
    a background thread notes when the gateway closes each."""

    def __init__(self, ctx, count=5):
        self.opened = time.monotonic()
        self.closed = {}
        self.socks = {}
        for i in range(count):
            s = httpc.connect(ctx.c.gateway, source="127.0.0.4")
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: fuzz\r\nX-Slow: ")
            self.socks[("half-open", i)] = s
        for i in range(count):
            s = httpc.connect(ctx.c.gateway, source="127.0.0.4")
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n")
            s.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                piece = s.recv(4096)
                if not piece:
                    break
                data += piece
            self.socks[("idle", i)] = s
        for s in self.socks.values():
            s.setblocking(False)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()

    def watch(self):
        while not self.stop.is_set():
            for key, s in self.socks.items():
                if key in self.closed:
                    continue
                try:
                    if s.recv(65536) == b"":
                        self.closed[key] = time.monotonic() - self.opened
                except BlockingIOError:
                    pass
                except OSError:
                    self.closed[key] = time.monotonic() - self.opened
            self.stop.wait(0.25)

    def result(self, kind, bound):
        wait = self.opened + bound + 2 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        keys = [k for k in self.socks if k[0] == kind]
        late = [k for k in keys if k not in self.closed or self.closed[k] > bound]
        times = sorted(round(self.closed[k]) for k in keys if k in self.closed)
        return not late, (f"{len(keys) - len(late)} of {len(keys)} {kind} connections closed by the gateway within "
                          f"{bound} s (closed after {times} s)")

    def close(self):
        self.stop.set()
        self.thread.join(2)
        for s in self.socks.values():
            s.close()


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def slowloris_cases(ctx):
    """More half-open connections from one address (127.0.0.3) than the gateway has
    descriptors: /healthz from another address must still answer at once, and the
    connections over the cap must be refused (503 or closed) rather than held."""
    target = GATEWAY_NOFILE + 256
    limit = raise_nofile()
    target = min(target, limit - 200)
    flood = []
    selector = selectors.DefaultSelector()
    deadline = time.monotonic() + 20
    for _ in range(target):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.bind(("127.0.0.3", 0))
            s.connect_ex(ctx.c.gateway)
        except OSError:
            s.close()
            break
        flood.append(s)
        selector.register(s, selectors.EVENT_WRITE)
    connected = 0
    while connected < len(flood) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            selector.unregister(key.fileobj)
            if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                try:
                    key.fileobj.send(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: fuzz\r\n")
                    connected += 1
                except OSError:
                    pass
    selector.close()
    time.sleep(2)  # let the gateway take in what it will
    gateway_fds = len(os.listdir(f"/proc/{ctx.c.procs['gateway'].pid}/fd"))

    def health():
        """Three probes a second apart from 127.0.0.1, each answered within 10 s (without the
        caps, none was answered at all; 10 s leaves room for a loaded machine)."""
        took = []
        for _ in range(3):
            try:
                r = httpc.Client(ctx.c.gateway, timeout=10, source="127.0.0.1").get("/healthz")
            except (httpc.Hang, OSError) as error:
                raise httpc.Hang(f"/healthz: {error} with {connected} half-open connections from 127.0.0.3 "
                                 f"(the gateway holds {gateway_fds} of its {GATEWAY_NOFILE} descriptors)")
            if r.status != 200:
                return False, f"/healthz {r.brief()} beside {connected} half-open connections"
            took.append(round(r.elapsed * 1000))
            time.sleep(1)
        return True, f"/healthz 200 in {took} ms beside {connected} half-open connections ({gateway_fds} descriptors open)"

    def over_cap():
        refused, start = 0, time.monotonic()
        pending = list(flood)
        while pending and time.monotonic() - start < 10:
            still = []
            for s in pending:
                try:
                    data = s.recv(4096)
                    if data == b"" or data.startswith(b"HTTP/1.1 503") or data.startswith(b"HTTP/1.1 4"):
                        refused += 1
                    else:
                        still.append(s)
                except BlockingIOError:
                    still.append(s)
                except OSError:
                    refused += 1
            pending = still
            if refused:
                break
            time.sleep(0.5)
        return refused > 0, (f"{refused} of {connected} flood connections refused (503 or closed) within 10 s; the gateway "
                             f"has {GATEWAY_NOFILE} descriptors")

    results = [("slowloris-healthz-answers", health), ("slowloris-over-cap-refused", over_cap)]
    return results, flood


def request_flood_case(ctx, threads, each):
    def worker(_):
        client = ctx.client(timeout=30)
        out = []
        for _ in range(each):
            r = client.get("/api/v1/me", token=ctx.token)
            out.append(r.status if r.status in (200, 429, 503) and (r.status == 200 or r.is_json_error()) else
                       f"{r.status}:{r.text[:60]}")
        return out

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        statuses = [s for batch in pool.map(worker, range(threads)) for s in batch]
    odd = [s for s in statuses if not isinstance(s, int)]
    counts = {s: statuses.count(s) for s in set(statuses) if isinstance(s, int)}
    return not odd, f"{len(statuses)} requests from {threads} clients: {counts}" + (f"; odd answers {odd[:3]}" if odd else "")


# -- the part -----------------------------------------------------------------------------

def run(part, ctx_):
    quick = ctx_.quick
    # A per-user limit on queued jobs below the starvation flood (the default may be higher).
    c = ctx_.cluster("http", gateway_nofile=GATEWAY_NOFILE,
                     server_env={"AGENTOS_MAX_QUEUED_PER_USER": str(QUEUED_PER_USER)})
    c.boot(workers=["w1"])
    ctx = Ctx(c, quick)
    holder = IdleHolder(ctx)
    try:
        for name, data, statuses, json_required in FRAMING:
            part.case(f"framing/{name}", framing_case, ctx, data, statuses, json_required)
        for group, cases in (("lookalike", lookalike_cases(ctx)), ("nul", nul_cases(ctx)),
                             ("huge-number", huge_number_cases(ctx)), ("nesting", nesting_cases(ctx)),
                             ("doc", doc_cases(ctx))):
            for name, fn in cases:
                part.case(f"{group}/{name}", fn)
        part.case("timestamps/started-after-created", timestamps_case, ctx, 30 if quick else 100)
        for name, fn in throttle_cases(ctx):
            part.case(f"login-throttle/{name}", fn)
        part.case("oversize/urllib-64MiB-submit", urllib_413, ctx, SUBMIT, 64 << 20, "application/json")
        part.case("oversize/urllib-41MiB-upload", urllib_413, ctx, "/api/v1/projects/default/files?name=big.bin",
                  41 << 20, "application/octet-stream")
        part.case("flood/requests", request_flood_case, ctx, 16 if quick else 32, 10 if quick else 30)
        slow, flood = slowloris_cases(ctx)
        try:
            for name, fn in slow:
                part.case(f"flood/{name}", fn)
        finally:
            for s in flood:
                s.close()
        part.case("flood/healthz-after-slowloris", lambda: (
            (lambda r: (r.status == 200, r.brief()))(httpc.Client(c.gateway, timeout=5).get("/healthz"))))
        for name, fn in starvation_cases(ctx, STARVATION_FLOOD):
            part.case(f"starvation/{name}", fn)
        part.case("timeout/header-read", holder.result, "half-open", HEADER_TIMEOUT_BOUND)
        if not quick:
            part.case("timeout/idle-keep-alive", holder.result, "idle", IDLE_TIMEOUT_BOUND)
        part.case("doc/every-answer-documented", every_status_documented, ctx)
        dead = [n for n, p in c.procs.items() if not p.alive()]
        part.check("processes-alive", not dead, f"died: {dead}" if dead else "server, gateway and worker alive")
    finally:
        holder.close()
    part.counters["cases"] = len(part.cases)


def summary(part):
    return f"hostile-http {part.counters.get('cases', len(part.cases))} cases {len(part.failed)} failed"
