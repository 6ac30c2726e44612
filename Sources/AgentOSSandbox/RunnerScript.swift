/// The Python program that runs a job inside its process: loads the job's code as a module,
/// calls the entrypoint (`main` by default) with the inputs when defined, and writes the outcome as JSON for the engine.
enum RunnerScript {
    /// File names inside a job's work directory.
    static let fileName = ".agentos_runner.py"
    static let codeFile = "job.py"
    static let inputsFile = ".agentos_inputs.json"
    static let resultFile = ".agentos_result.json"

    static let source = #"""
import ctypes, json, os, signal, sys, traceback, types

# Die with the worker: if it is killed outright, nothing else would stop this job.
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except Exception:
    pass
if os.getppid() == 1:
    sys.exit(1)

def finish(outcome):
    sys.stdout.flush()
    sys.stderr.flush()
    with open(RESULT, "w", encoding="utf-8") as out:
        out.write(outcome)

workdir = sys.argv[1]
entry_name = sys.argv[2] if len(sys.argv) > 2 else "main"
RESULT = os.path.join(workdir, ".agentos_result.json")
with open(os.path.join(workdir, ".agentos_inputs.json"), encoding="utf-8") as f:
    inputs = json.load(f)
path = os.path.join(workdir, "job.py")
with open(path, encoding="utf-8") as f:
    source = f.read()
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
        finish(json.dumps({"ok": False, "error": "exit: the job called sys.exit(%d)" % code}))
        sys.exit(code)
    result = None
except BaseException as error:
    # Show the job's own frames, not this runner's.
    traceback.print_exception(type(error), error, error.__traceback__.tb_next)
    message = "%s: %s" % (type(error).__name__, error)
    finish(json.dumps({"ok": False, "error": "exception: " + message[:2000]}))
    sys.exit(1)
if missing:
    finish(json.dumps({"ok": False, "error": "entrypoint_missing: the code defines no function %s" % entry_name}))
    sys.exit(1)
try:
    encoded = json.dumps({"ok": True, "result": result}, allow_nan=False)
except (TypeError, ValueError) as error:
    finish(json.dumps({"ok": False, "error": "result_not_json: %s" % error}))
    sys.exit(1)
finish(encoded)
"""#
}
