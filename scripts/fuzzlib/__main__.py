"""scripts/fuzz: runs the parts one after another, each against a cluster of its own and
within a time bound, then prints one summary line. Exit status 1 when anything failed."""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

from . import bus, chaos, chaos_ha, cluster, hostile_http, schema
from .report import Part, print_exception

PARTS = {"schema": schema, "http": hostile_http, "bus": bus, "chaos": chaos, "chaos-ha": chaos_ha}


class Context:
    """What a part gets: the size of the run, where to put things, and clusters that the
    driver stops after the part (or when the part overruns its bound)."""

    def __init__(self, quick, root, strict):
        self.quick, self.root, self.strict = quick, root, strict
        self.clusters = []

    def cluster(self, name, **kw):
        c = cluster.Cluster(name, self.root, **kw)
        self.clusters.append(c)
        return c

    def stop_clusters(self):
        for c in self.clusters:
            try:
                c.stop()
            except Exception as error:  # teardown must go on
                print(f"fuzz: stopping {c.name}: {error}", file=sys.stderr)
        self.clusters = []


def run_part(module, ctx):
    part = Part(module.NAME)
    bound = module.time_bound(ctx.quick)
    print(f"fuzz: {module.NAME} (bound {bound} s)", flush=True)

    def body():
        try:
            module.run(part, ctx)
        except Exception as error:
            print_exception(part, error)

    thread = threading.Thread(target=body, name=module.NAME, daemon=True)
    thread.start()
    thread.join(bound)
    if thread.is_alive():
        part.hang("time-bound", f"the part was still running after {bound} s; its cluster was stopped")
        ctx.stop_clusters()  # unblocks what waits on the system
        thread.join(20)
        if thread.is_alive():
            part.error = "the part did not end after its cluster was stopped"
    ctx.stop_clusters()
    print(f"fuzz: {module.NAME} done in {part.elapsed():.0f} s, {len(part.failed)} failed", flush=True)
    return part


def summary(parts):
    pieces, hangs, bad = [], 0, False
    for part in parts:
        module = PARTS[part.key]
        text = module.summary(part) if part.error is None else f"{module.NAME} ERROR ({part.error.strip().splitlines()[-1]})"
        pieces.append(text)
        hangs += len(part.hangs)
        bad = bad or bool(part.failed) or part.error is not None
    line = "fuzz: " + "; ".join(pieces) + f"; {hangs} hangs"
    return line, bad or hangs > 0


def main():
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every part, small (for scripts/test)")
    parser.add_argument("--parts", default="schema,http,bus,chaos,chaos-ha", help="comma-separated: schema,http,bus,chaos,chaos-ha")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory with every log")
    parser.add_argument("--strict", action="store_true", help="schemathesis' advisory checks fail the run too")
    args = parser.parse_args()
    chosen = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PARTS]
    if unknown or not chosen:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")

    cluster.become_subreaper()
    root = tempfile.mkdtemp(prefix="agentos-fuzz-")
    os.chmod(root, 0o711)
    ctx = Context(args.quick, root, args.strict)

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    parts, started = [], time.monotonic()
    print(f"fuzz: {'quick' if args.quick else 'full'} run of {', '.join(chosen)} with {os.environ['AGENTOS_BIN']}; "
          f"logs in {root}", flush=True)
    try:
        for key in chosen:
            part = run_part(PARTS[key], ctx)
            part.key = key
            parts.append(part)
    except KeyboardInterrupt:
        print("fuzz: interrupted; stopping what it started", file=sys.stderr, flush=True)
        ctx.stop_clusters()
        cluster.kill_descendants()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        return 130
    finally:
        ctx.stop_clusters()
        cluster.kill_descendants()

    line, bad = summary(parts)
    if bad or args.keep:
        print(f"fuzz: logs kept in {root}", flush=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
    print(f"fuzz: {time.monotonic() - started:.0f} s in all", flush=True)
    print(line, flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
