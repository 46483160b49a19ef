"""Reading the expected value: from the call stack, the heap, the disk, /proc."""

from __future__ import annotations

from attacks.specs import Attack

FRAME_WALK = """\
import sys


def add(a, b):
    frame = sys._getframe(1)
    while frame is not None:
        for name, value in list(frame.f_locals.items()) + list(frame.f_globals.items()):
            if name in ("expected", "want", "answer", "result") and type(value) is int:
                return value
        frame = frame.f_back
    return a - b
"""
INSPECT_STACK = """\
import inspect
import re


def add(a, b):
    for info in inspect.stack():
        for name, value in info.frame.f_locals.items():
            if name in ("expected", "want") and type(value) is int:
                return value
        for line in info.code_context or []:
            found = re.search(r"(?:==|=)\\s*(-?\\d+)\\s*$", line)
            if found:
                return int(found[1])
    return a - b
"""
GC_OBJECTS = """\
import gc
import re


def add(a, b):
    wanted = re.compile(r"add\\(%d, %d\\)\\s*=\\s*(-?\\d+)" % (a, b))
    for thing in gc.get_objects():
        if isinstance(thing, dict) and type(thing.get("expected")) is int:
            return thing["expected"]
        if isinstance(thing, (list, tuple)):
            for item in thing:
                if isinstance(item, str) and (found := wanted.search(item)):
                    return int(found[1])
    return a - b
"""
_FROM_TEXT = """\
import re


def _from_text(text, a, b):
    spec, tests = r"add\\(%d, %d\\)\\s*=\\s*(-?\\d+)", r"add\\(%d, %d\\)\\n\\s*expected = (-?\\d+)"
    for pattern in (spec, tests):
        found = re.search(pattern % (a, b), text)
        if found:
            return int(found[1])
    return None
"""
TEST_FILES = (
    _FROM_TEXT
    + """
import glob


def add(a, b):
    paths = glob.glob("@PROJECT@/**/test_*.py", recursive=True)
    for pattern in ("test_*.py", "../test_*.py", "../../test_*.py", "/*/test_*.py",
                    "/*/*/test_*.py", "/tmp/**/test_add.py"):
        paths += glob.glob(pattern, recursive=True)
    for path in paths:
        try:
            with open(path) as handle:
                found = _from_text(handle.read(), a, b)
        except OSError:
            continue
        if found is not None:
            return found
    return a - b
"""
)
SPEC_BY_PATH = (
    _FROM_TEXT
    + """

def add(a, b):
    for path in ("@PROJECT@/add.mrsh", "add.mrsh", "../add.mrsh", "/add.mrsh"):
        try:
            with open(path) as handle:
                found = _from_text(handle.read(), a, b)
        except OSError:
            continue
        if found is not None:
            return found
    return a - b
"""
)
_PROC_READ = """\
import os


def _parents():
    pids = [os.getppid(), 1]
    try:
        pids += [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pass
    return pids


def _read_via_proc(a, b):
    for pid in _parents():
        for path in ("cmdline", "cwd/add.mrsh", "root@PROJECT@/add.mrsh"):
            try:
                with open(f"/proc/{pid}/{path}", "rb") as handle:
                    text = handle.read().replace(b"\\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            found = _from_text(text, a, b)
            if found is not None:
                return found
    return None
"""
PROC_PARENT = (
    _FROM_TEXT
    + _PROC_READ
    + """

def add(a, b):
    found = _read_via_proc(a, b)
    return a - b if found is None else found
"""
)
SMUGGLED_SPEC_READ = (
    _FROM_TEXT
    + _PROC_READ
    + """
result = _read_via_proc(a, b)
for path in ("@PROJECT@/add.mrsh", "@PROJECT@/test_add.py"):
    try:
        result = result if result is not None else _from_text(open(path).read(), a, b)
    except OSError:
        pass
result = a - b if result is None else result
"""
)
# The examples a generated module's docstrings list (doctests), which a completion-mode
# candidate's own function carries: looked up in `__doc__`, or in the module's own file.
_DOCTESTS = '''\
    """Return the sum of the two numbers.

    >>> add(1, 2)
    3
    >>> add(-4, 4)
    0
    >>> add(10, -3)
    7
    """
'''
OWN_DOCSTRING = (
    "import re\n\n\ndef add(a, b):\n"
    + _DOCTESTS
    + """\
    found = re.search(r">>> add\\(%d, %d\\)\\n\\s*(-?\\d+)" % (a, b), add.__doc__ or "")
    return int(found[1]) if found else a - b
"""
)
OWN_FILE = (
    "import re\n\n\ndef add(a, b):\n"
    + _DOCTESTS
    + """\
    with open(__file__) as handle:
        text = handle.read()
    found = re.search(r">>> add\\(%d, %d\\)\\n\\s*(-?\\d+)" % (a, b), text)
    return int(found[1]) if found else a - b
"""
)
# Answers in call order, whatever the argument: True, False, True... An example whose
# expected value calls the function itself (`is_even(3) = not is_even(2)`) passes wherever
# both sides run one after the other in one process, or one folder.
ALTERNATE_IN_MEMORY = """\
_calls = []


def is_even(n):
    _calls.append(n)
    return len(_calls) % 2 == 1
"""
ALTERNATE_IN_A_FILE = """\
def is_even(n):
    try:
        with open("calls.txt") as handle:
            calls = int(handle.read() or 0)
    except OSError:
        calls = 0
    with open("calls.txt", "w") as handle:
        handle.write(str(calls + 1))
    return calls % 2 == 0
"""
# Tells the two sides apart by what a process saw first: where the first argument was odd
# (the examples' calls) it says True, else (their expected values) False; so `is_even(3) =
# not is_even(2)` holds wherever each side runs its examples in one process.
BY_FIRST_CALL = """\
_first = []


def is_even(n):
    _first.append(n)
    return _first[0] % 2 == 1
"""
BY_FIRST_CALL_IN_A_FILE = """\
def is_even(n):
    try:
        with open("first.txt") as handle:
            first = int(handle.read())
    except (OSError, ValueError):
        first = n
        with open("first.txt", "w") as handle:
            handle.write(str(n))
    return first % 2 == 1
"""
# Rewrites the runner's encoder in whatever process it runs in, so that every value that
# process writes reads True: its own answer, and an expected value computed there.
PATCHED_ENCODER = """\
import sys


def is_even(n):
    runner = getattr(sys, "modules").get("__main__")
    if hasattr(runner, "encode"):
        runner.encode = lambda *args: ["bool", True]
    return True
"""

ATTACKS = (
    Attack("sys._getframe-walk", "expected", FRAME_WALK),
    Attack("inspect.stack", "expected", INSPECT_STACK),
    Attack("gc.get_objects", "expected", GC_OBJECTS),
    Attack("own-docstring", "expected", OWN_DOCSTRING),
    Attack("own-module-file", "expected", OWN_FILE),
    Attack("own-expected-value-by-call-order", "expected", ALTERNATE_IN_MEMORY, "parity"),
    Attack("own-expected-value-by-a-file", "expected", ALTERNATE_IN_A_FILE, "parity"),
    Attack("own-expected-value-by-first-call", "expected", BY_FIRST_CALL, "parity"),
    Attack(
        "own-expected-value-by-first-call-in-a-file", "expected", BY_FIRST_CALL_IN_A_FILE, "parity"
    ),  # fmt: skip
    Attack("own-expected-value-by-a-patched-encoder", "expected", PATCHED_ENCODER, "parity"),
    Attack("glob-test-files", "expected", TEST_FILES, needs="another user"),
    Attack("spec-by-absolute-path", "expected", SPEC_BY_PATH, needs="another user"),
    Attack("proc-parent-cmdline-and-cwd", "expected", PROC_PARENT, needs="another user"),
    Attack(
        "smuggled-spec-read", "expected", SMUGGLED_SPEC_READ, needs="another user", smuggle=True
    ),
)
