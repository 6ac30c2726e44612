"""schemathesis over the document the gateway serves (GET /api/v1/openapi.json), with every
check on, first as a plain project member, then as an admin. What counts, read from its
NDJSON event log: responses with a 5xx status; schema violations (a response whose body,
content type or headers the document does not allow); undocumented statuses (a status the
document does not declare for that operation); requests that got no answer in time (hangs).
The other checks (negative data accepted, valid data refused, undeclared methods, ...) are
printed as advisory findings and fail the run only with --strict.

The fuzzing identities must survive the run, so the operations that could end them are
pointed at things made to be destroyed: PATCH /users/{user} at a victim user, DELETE
/tokens/{token} and /worker-tokens/{token} at spare tokens, DELETE /projects/{project} at
a spare project, and POST /auth/logout runs with a login session of its own."""

import collections
import json
import os
import re
import subprocess
import sys

from .cluster import ADMIN_EMAIL, ADMIN_PASSWORD

NAME = "schemathesis"
SCHEMA_VIOLATION_CHECKS = {"response_schema_conformance", "content_type_conformance", "response_headers_conformance"}
STATUS_CHECK = "status_code_conformance"
SERVER_ERROR_CHECK = "not_a_server_error"


def time_bound(quick):
    return 150 if quick else 420


def budgets(quick):
    """Seconds of fuzzing as (member, admin)."""
    return (15, 35) if quick else (80, 200)


def documented_statuses(doc):
    """{"METHOD /path": {"200", "400", ...}} from the document."""
    out = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                out[f"{method.upper()} {path}"] = set(operation["responses"])
    return out


def toml_string(value):
    return json.dumps(value)  # a JSON string literal is a valid TOML basic string


def write_config(path, token, logout_token, overrides):
    """schemathesis.toml: the identity's token everywhere, a throwaway session for logout,
    and fixed path parameters for the operations that could destroy the identity."""
    lines = [f"headers = {{ Authorization = {toml_string('Bearer ' + token)} }}", ""]
    # One include key per entry: schemathesis ORs separate include keys.
    lines += ["[[operations]]", 'include-name = "POST /api/v1/auth/logout"',
              f"headers = {{ Authorization = {toml_string('Bearer ' + logout_token)} }}", ""]
    for (method, route, param), value in overrides.items():
        lines += ["[[operations]]", f"include-name = {toml_string(method + ' ' + route)}",
                  f"parameters = {{ {toml_string('path.' + param)} = {toml_string(value)} }}", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def run_schemathesis(part, c, who, token, logout_token, overrides, seconds, quick):
    work = os.path.join(c.dir, f"schemathesis-{who}")
    os.makedirs(work, exist_ok=True)
    config = os.path.join(work, "schemathesis.toml")
    write_config(config, token, logout_token, overrides)
    events = os.path.join(work, "events.ndjson")
    command = [os.path.join(os.path.dirname(sys.executable), "schemathesis"), "--config-file", config, "run",
               f"{c.url}/api/v1/openapi.json", "--checks", "all", "--max-time", str(seconds),
               "--request-timeout", "30", "--workers", "2", "--generation-database", "none",
               "--report", "ndjson", "--report-ndjson-path", events, "--no-color", "--output-truncate", "true"]
    print(f"  {NAME}: as {who} for {seconds} s", flush=True)
    with open(os.path.join(work, "output.txt"), "w") as out:
        try:
            proc = subprocess.run(command, cwd=work, stdout=out, stderr=subprocess.STDOUT, timeout=seconds + 120)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            part.hang(f"{who}/run", f"schemathesis ran {seconds + 120} s, past its --max-time of {seconds} s")
            return None
    if not os.path.exists(events):
        raise RuntimeError(f"schemathesis ({who}) wrote no event log; exit {code}; see {work}/output.txt")
    return events


def read_events(path, documented, found, who):
    """Adds to found what the NDJSON log of one run holds."""
    with open(path) as f:
        for line in f:
            event = json.loads(line)
            kind, body = next(iter(event.items()))
            if "Error" in kind or kind == "NonFatalError":
                text = json.dumps(body)[:400]
                found["errors"].append(f"{who}: {kind} {text}")
                if re.search(r"timed? ?out|Timeout", text, re.I):
                    found["hangs"].append(f"{who}: {text}")
                continue
            if kind != "ScenarioFinished":
                continue
            recorder = body.get("recorder") or {}
            label = recorder.get("label", "?")
            for case_id, interaction in (recorder.get("interactions") or {}).items():
                response = interaction.get("response")
                request = interaction.get("request") or {}
                found["requests"] += 1
                if not response:
                    found["no_response"].append(f"{who}: {label} {request.get('uri')}")
                    continue
                status = response.get("status_code")
                where = f"{request.get('method')} {request.get('uri', '').split('?')[0]}"
                if status >= 500:
                    found["5xx"].append((who, label, status, where))
                declared = documented.get(label)
                if request.get("method", "").upper() != label.split(" ")[0]:
                    declared = None  # an undeclared-method probe: the unsupported_method check's business
                if declared is not None and str(status) not in declared and "default" not in declared:
                    found["undocumented"][(label, status)].append(f"{who}: {where}")
            for case_id, checks in (recorder.get("checks") or {}).items():
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    failure = (check.get("failure_info") or {}).get("failure") or {}
                    name = check.get("name")
                    message = (failure.get("title") or "") + ": " + (failure.get("message") or "").split("\n")[0][:200]
                    key = (failure.get("operation") or label, name, failure.get("title") or "")
                    found["examples"].setdefault(key, message)
                    if name in SCHEMA_VIOLATION_CHECKS:
                        found["schema"][key] += 1
                    elif name in (STATUS_CHECK, SERVER_ERROR_CHECK):
                        pass  # counted from the interactions themselves
                    else:
                        found["advisory"][key] += 1


def setup_identities(c):
    """Tokens, spare things to destroy, and a plain member of the default project."""
    admin = c.admin_token
    client = c.client()
    admin_pat, _ = c.pat(admin, "fuzz-admin")
    _, admin_spare_pat = c.pat(admin, "spare-admin")
    victim = c.create_user("victim@example.com", "victim-password-1", "Victim")
    r = client.post("/api/v1/worker-tokens", {"name": "spare"}, token=admin)
    spare_worker_token = r.json["id"]
    r = client.post("/api/v1/projects", {"name": "spare"}, token=admin)
    assert r.status == 201, r.brief()
    c.create_user("member@example.com", "member-password-1", "Member")
    r = client.request("PUT", "/api/v1/projects/default/members", {"email": "member@example.com", "role": "runner"},
                       token=admin)
    assert r.status == 200, r.brief()
    member = c.login("member@example.com", "member-password-1")
    member_pat, _ = c.pat(member, "fuzz-member")
    _, member_spare_pat = c.pat(member, "spare-member")
    common = {("PATCH", "/api/v1/users/{user}", "user"): victim,
              ("DELETE", "/api/v1/worker-tokens/{token}", "token"): spare_worker_token,
              ("DELETE", "/api/v1/projects/{project}", "project"): "spare"}
    return [
        ("member", member_pat, c.login("member@example.com", "member-password-1"),
         {**common, ("DELETE", "/api/v1/tokens/{token}", "token"): member_spare_pat}),
        ("admin", admin_pat, c.login(ADMIN_EMAIL, ADMIN_PASSWORD),
         {**common, ("DELETE", "/api/v1/tokens/{token}", "token"): admin_spare_pat}),
    ]


def run(part, ctx):
    c = ctx.cluster("schema", queue_timeout=5)
    c.boot(workers=["w1"])
    documented = documented_statuses(c.client().get("/api/v1/openapi.json").json)
    found = {"requests": 0, "5xx": [], "undocumented": collections.defaultdict(list),
             "schema": collections.Counter(), "advisory": collections.Counter(), "errors": [], "hangs": [],
             "no_response": [], "examples": {}}
    identities = setup_identities(c)
    for (who, token, logout_token, overrides), seconds in zip(identities, budgets(ctx.quick)):
        events = run_schemathesis(part, c, who, token, logout_token, overrides, seconds, ctx.quick)
        if events:
            read_events(events, documented, found, who)
        # The identity must have lived through it, or the run tested little.
        me = c.client().get("/api/v1/me", token=token)
        part.check(f"{who}/identity-survived", me.status == 200, "" if me.status == 200 else
                   f"the fuzzing token stopped working ({me.brief()}): most of the run was 401s")

    part.counters.update(requests=found["requests"], five=len(found["5xx"]), schema=len(found["schema"]),
                         undocumented=len(found["undocumented"]), advisory=sum(found["advisory"].values()))
    # Details first, then one case per gating figure.
    by_op = collections.Counter((who, label, status) for who, label, status, _ in found["5xx"])
    for (who, label, status), n in sorted(by_op.items()):
        example = next(w for x, l, s, w in found["5xx"] if (x, l, s) == (who, label, status))
        print(f"    5xx: {status} x{n} on {label} as {who} (e.g. {example})")
    for (label, status), where in sorted(found["undocumented"].items()):
        print(f"    undocumented: {status} on {label} x{len(where)} (e.g. {where[0]})")
    for key, n in sorted(found["schema"].items()):
        print(f"    schema violation: {key[0]} {key[1]} x{n}: {found['examples'][key]}")
    for key, n in sorted(found["advisory"].items()):
        print(f"    advisory: {key[0]} {key[1]} x{n}: {found['examples'][key]}")
    for error in found["errors"][:10]:
        print(f"    schemathesis error: {error}")
    for request in found["no_response"][:10]:
        print(f"    no response: {request}")
    part.check("no-5xx", not found["5xx"], f"{len(found['5xx'])} responses with a 5xx status")
    part.check("no-schema-violations", not found["schema"], f"{len(found['schema'])} distinct violations")
    part.check("no-undocumented-statuses", not found["undocumented"],
               f"{len(found['undocumented'])} (operation, status) pairs the document does not declare: " +
               ", ".join(f"{s} on {l}" for l, s in sorted(found["undocumented"])))
    for hang in found["hangs"]:
        part.hang("request", hang)
    dead = [n for n, p in c.procs.items() if not p.alive()]
    part.check("processes-alive", not dead, f"died: {dead}" if dead else "server, gateway and worker alive")
    if ctx.strict:
        part.check("no-advisory-findings", not found["advisory"], f"{len(found['advisory'])} distinct findings")
    elif found["advisory"]:
        part.note(f"{sum(found['advisory'].values())} advisory findings in {len(found['advisory'])} kinds "
                  f"(not gating; --strict makes them fail)")


def summary(part):
    n = part.counters
    if "requests" not in n:
        return f"schemathesis did not finish ({len(part.failed)} failed)"
    text = (f"schemathesis {n['requests']} requests, {n['five']} 5xx, {n['schema']} schema violations, "
            f"{n['undocumented']} undocumented statuses")
    if n.get("advisory"):
        text += f" ({n['advisory']} advisory)"
    return text
