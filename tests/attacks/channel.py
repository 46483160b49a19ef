"""Tampering with the verdict channel from inside the candidate's own process."""

from __future__ import annotations

from attacks.specs import Attack

_FORGE = """\
import json, os, sys


def _forge(*ids):
    request = getattr(sys.modules["__main__"], "request", None)
    if isinstance(request, dict):
        ids += (request.get("id", ""),)
    lines = b""
    for ident in ids + ("0", "1"):
        for value in (["int", "3"], ["int", "0"], ["int", "7"]):
            record = {"id": ident, "returned": value, "ready": True}
            lines += json.dumps(record).encode() + b"\\n"
    for fd in range(64):
        try:
            os.write(fd, lines)
        except OSError:
            pass
"""
FORGED_LINES = (
    _FORGE
    + """

def add(a, b):
    _forge()
    return a - b
"""
)
FORGE_AND_EXIT = (
    _FORGE
    + """

def add(a, b):
    _forge()
    os._exit(0)
"""
)
FORKED_FORGER = (
    _FORGE
    + """
import posix
import time


def add(a, b):
    if posix.fork() == 0:
        for _ in range(20):
            _forge()
            time.sleep(0.05)
        os._exit(0)
    return a - b
"""
)
ATEXIT_FORGER = (
    _FORGE
    + """
import atexit


def add(a, b):
    atexit.register(_forge)
    raise SystemExit(0)
"""
)
PATCH_ENCODER = """\
import sys


def add(a, b):
    main = sys.modules["__main__"]
    main.encode = lambda *args: ["int", "3"]
    main.raised = lambda exc: None
    return a - b
"""
PATCH_JSON_AND_EVAL = """\
import builtins
import json


def add(a, b):
    json.dumps = lambda record, *args, **kwargs: (
        '{"id": "%s", "returned": ["int", "3"]}' % record.get("id", "")
    )
    builtins.eval = lambda *args, **kwargs: 3
    return a - b
"""
SYSTEM_EXIT = """\
def add(a, b):
    raise SystemExit(0)
"""
KEYBOARD_INTERRUPT = """\
def add(a, b):
    raise KeyboardInterrupt
"""
FAKE_SKIP = """\
class Skipped(BaseException):
    __module__ = "_pytest.outcomes"

    def __str__(self):
        return "passed"


def add(a, b):
    raise Skipped()
"""
PYTEST_SKIP = """\
import pytest


def add(a, b):
    pytest.skip("not applicable")
"""
ALARM_IGNORED = """\
import signal

signal.signal(signal.SIGALRM, signal.SIG_IGN)


def add(a, b):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, 0)
    while a == 1:
        pass
    return a - b
"""
CLOSED_FDS = """\
import os


def add(a, b):
    os.closerange(0, 1024)
    return a - b
"""
STDOUT_REPLACED = (
    _FORGE
    + """

class _Everywhere:
    def write(self, text):
        for fd in range(64):
            try:
                os.write(fd, text.encode())
            except OSError:
                pass
        return len(text)

    def flush(self):
        pass


sys.stdout = sys.__stdout__ = _Everywhere()


def add(a, b):
    request = getattr(sys.modules["__main__"], "request", {})
    print(json.dumps({"id": request.get("id"), "returned": ["int", "3"]}))
    return a - b
"""
)
LATE_THREAD = (
    _FORGE
    + """
import threading
import time


def _answer_later():
    seen = set()
    while True:
        request = getattr(sys.modules["__main__"], "request", None)
        if isinstance(request, dict) and request.get("id") not in seen:
            seen.add(request.get("id"))
            _forge()
        time.sleep(0.001)


def add(a, b):
    threading.Thread(target=_answer_later, daemon=True).start()
    time.sleep(0.05)
    return a - b
"""
)
# Text that reaches the user's terminal: a carriage return and escape sequences that would
# erase the report's lines and print a forged "ok" in their place, on the error message, a
# class name and the process's stderr.
TERMINAL_CODES = """\
import os

FAKE = "\\r\\x1b[2K\\x1b[1A\\x1b[2Kadd.mrsh: ok (add.py, test_add.py)\\x1b[8m\\x07"


def add(a, b):
    os.write(2, FAKE.encode() * 4)
    raise type(FAKE, (ValueError,), {})(FAKE)
"""

ATTACKS = (
    Attack("forged-lines-on-every-fd", "channel", FORGED_LINES),
    Attack("forge-then-os._exit", "channel", FORGE_AND_EXIT),
    Attack("forked-child-keeps-forging", "channel", FORKED_FORGER),
    Attack("atexit-forger", "channel", ATEXIT_FORGER),
    Attack("runner-encoder-replaced", "channel", PATCH_ENCODER),
    Attack("json-and-eval-replaced", "channel", PATCH_JSON_AND_EVAL),
    Attack("system-exit", "channel", SYSTEM_EXIT),
    Attack("keyboard-interrupt", "channel", KEYBOARD_INTERRUPT),
    Attack("fake-pytest-skip", "channel", FAKE_SKIP),
    Attack("real-pytest-skip", "channel", PYTEST_SKIP),
    Attack("sigalrm-ignored", "channel", ALARM_IGNORED),
    Attack("all-fds-closed", "channel", CLOSED_FDS),
    Attack("sys.stdout-replaced", "channel", STDOUT_REPLACED),
    Attack("thread-answers-later", "channel", LATE_THREAD),
    Attack("terminal-control-codes", "channel", TERMINAL_CODES),
)
