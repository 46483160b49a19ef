"""`ast.parse` one thread at a time, in every module of this process.

CPython 3.11 keeps the recursion depth of turning a parse tree into Python objects in
state shared by all threads. When a garbage collection in one thread runs Python code (a
finalizer) in the middle of that, another thread's `ast.parse` can run and move the depth,
and the first raises `SystemError: AST constructor recursion depth mismatch`. The compiler
parses in many threads at once (candidates judged side by side, the probe gate, the
sandbox's copy of a module without docstrings), and the standard library parses too
(`ast.literal_eval` on text), so the lock wraps `ast.parse` itself rather than our calls
of it: one place, whoever calls. Parsing is a small share of a compile, so taking turns
costs little. Installed once, when the `marshalike` package is imported.
"""

from __future__ import annotations

import ast
import functools
import threading
from typing import Any

_LOCK = threading.RLock()  # reentrant: parsing can be asked for while a parse runs (a hook)


def install() -> None:
    """Make `ast.parse` take the lock; a second call changes nothing."""
    if getattr(ast.parse, "__wrapped_by_marshalike__", False):
        return
    unlocked = ast.parse

    @functools.wraps(unlocked)
    def parse(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return unlocked(*args, **kwargs)

    parse.__wrapped_by_marshalike__ = True  # type: ignore[attr-defined]
    ast.parse = parse
