"""What a part found: named cases that pass or fail with a reason, hangs, and counters for
the summary line."""

import sys
import threading
import time
import traceback

from .httpc import Hang


class Part:
    def __init__(self, name):
        self.name = name
        self.cases = []      # (case, ok, reason)
        self.hangs = []      # case names
        self.counters = {}
        self.notes = []      # findings that do not fail the run
        self.error = None    # the part itself broke (not the system): a traceback
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def check(self, case, ok, reason=""):
        with self.lock:
            self.cases.append((case, bool(ok), reason))
        mark = "pass" if ok else "FAIL"
        print(f"  {mark} {self.name}/{case}" + (f": {reason}" if reason else ""), flush=True)
        return ok

    def hang(self, case, reason):
        with self.lock:
            self.hangs.append(case)
        return self.check(case, False, f"hang: {reason}")

    def note(self, text):
        with self.lock:
            self.notes.append(text)
        print(f"  note {self.name}: {text}", flush=True)

    def count(self, key, n=1):
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + n

    def case(self, name, fn, *args):
        """Runs one case: fn returns (ok, reason); a Hang or an exception fails it with the
        reason, and the part goes on."""
        try:
            ok, reason = fn(*args)
        except Hang as error:
            return self.hang(name, str(error))
        except Exception as error:  # a failure of the system shows up here too (a reset, bad JSON)
            return self.check(name, False, f"{error.__class__.__name__}: {error}")
        return self.check(name, ok, reason)

    @property
    def failed(self):
        return [c for c in self.cases if not c[1]]

    def elapsed(self):
        return time.monotonic() - self.started


def print_exception(part, error):
    part.error = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    print(f"  ERROR {part.name}: the part itself broke:\n{part.error}", file=sys.stderr, flush=True)
