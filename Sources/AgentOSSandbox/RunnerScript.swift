/// The Python program a sandbox runs (`python3 -I -c SOURCE`, in the job's work dir). It
/// starts ahead of any job: it loads the interpreter, says `ready` on descriptor 4 and waits
/// on descriptor 3 for the job's settings (entrypoint and limits, JSON, up to end of file).
/// Then it lowers its resource limits to the job's, loads `job.py` as a module, calls the
/// entrypoint (`main` by default) with the inputs from `inputs.json` when defined, and writes
/// the outcome as JSON on descriptor 4.
enum RunnerScript {
    /// Files the engine writes in a job's work dir before handing the job over.
    static let codeFile = "job.py"
    static let inputsFile = ".agentos_inputs.json"
    /// The first line the runner writes once it waits for a job.
    static let readyLine = "ready\n"

    /// The runner's job part: `serve()`, which says ready, waits for the settings, runs the job
    /// and ends the process. The cold runner calls it at once; the fork server's sandboxes
    /// call it once their namespaces are set up.
    static let serve = #"""
import json, os, resource, sys, traceback, types

CONTROL_IN, CONTROL_OUT = 3, 4

def warm_up():
    """What every job does before its own code, done once before saying ready: in a forked
    sandbox, the pages it writes are copied now rather than while a job waits."""
    json.loads(json.dumps({"entrypoint": "main", "limits": {"memory_bytes": 1.5, "processes": None}}))
    resource.getrusage(resource.RUSAGE_SELF)
    exec(compile("def main():\n    return [1]\n", "job.py", "exec"), types.ModuleType("job").__dict__)

def read_to_end(fd):
    """Everything the descriptor holds until its writer closes it; then it is closed."""
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)

def serve():
    """Runs one job in this process (see RunnerScript) and ends it: never returns."""
    os.set_inheritable(CONTROL_IN, False)
    os.set_inheritable(CONTROL_OUT, False)
    warm_up()
    os.write(CONTROL_OUT, b"ready\n")
    received = read_to_end(CONTROL_IN)
    if not received:
        os._exit(0)
    settings = json.loads(received)

    def finish(outcome, code):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        view = memoryview(outcome.encode("utf-8"))
        while view:
            view = view[os.write(CONTROL_OUT, view):]
        os._exit(code)

    def fail(error, code=1):
        finish(json.dumps({"ok": False, "error": error}), code)

    limits = settings.get("limits", {})
    for name, which in (("memory_bytes", resource.RLIMIT_AS), ("processes", resource.RLIMIT_NPROC),
                        ("file_bytes", resource.RLIMIT_FSIZE), ("open_files", resource.RLIMIT_NOFILE)):
        value = limits.get(name)
        if value:
            hard = resource.getrlimit(which)[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))
    cpu = limits.get("cpu_seconds")
    if cpu:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime + 0.999) + cpu
        # At the soft limit SIGXCPU's default action ends the process (whatever its threads are
        # doing), and the engine reports cpu_limit; the hard limit is a backstop.
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 2))
    memory_error = "memory_limit: the job needed more than %d MiB" % (limits.get("memory_bytes", 0) >> 20)
    # Given for this run only (a provider's key): in the environment, never on disk.
    for name, value in settings.get("environment", {}).items():
        os.environ[name] = value

    entry_name = settings.get("entrypoint") or "main"
    try:
        with open(".agentos_inputs.json", encoding="utf-8") as f:
            inputs = json.load(f)
        os.unlink(".agentos_inputs.json")
        path = os.path.join(os.getcwd(), "job.py")
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except MemoryError:
        fail(memory_error)
    module = types.ModuleType("job")
    module.__file__ = path
    sys.modules["job"] = module
    sys.argv = [path]
    missing = False
    try:
        exec(compile(source, "job.py", "exec"), module.__dict__)
        entry = module.__dict__.get(entry_name)
        # `main` is optional (a script runs as a module); a named entrypoint is not.
        missing = entry_name != "main" and not callable(entry)
        result = entry(**inputs) if callable(entry) and not missing else None
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        if code != 0:
            fail("exit: the job called sys.exit(%d)" % code, code)
        result = None
    except MemoryError:
        fail(memory_error)
    except BaseException as error:
        # Show the job's own frames, not this runner's.
        try:
            traceback.print_exception(type(error), error, error.__traceback__.tb_next)
            message = "%s: %s" % (type(error).__name__, error)
        except MemoryError:
            fail(memory_error)
        fail("exception: " + message[:2000])
    if missing:
        fail("entrypoint_missing: the code defines no function %s" % entry_name)
    try:
        encoded = json.dumps({"ok": True, "result": result}, allow_nan=False)
    except MemoryError:
        fail(memory_error)
    except (TypeError, ValueError) as error:
        fail("result_not_json: %s" % error)
    finish(encoded, 0)
"""#

    /// The cold runner: a fresh interpreter that serves one job.
    static let source = serve + "\nserve()\n"
}
