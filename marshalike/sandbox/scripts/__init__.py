"""Code that runs inside the sandbox, kept as real files so tools read, lint and type-check
it like the rest. The compiler never imports these modules: it reads their text and starts
them with `python -I -c`, so nothing of marshalike is importable or on a path the child
sees."""

from __future__ import annotations

import functools
from importlib.resources import files


@functools.cache
def source(name: str) -> str:
    """The text of `scripts/NAME.py`, as `python -c` runs it."""
    return files(__name__).joinpath(name + ".py").read_text(encoding="utf-8")


def runner() -> str:
    """The runner's program: what it holds before the module under test is imported, then
    the rest, which takes those names from `__main__`."""
    return "\n\n".join(source(part) for part in ("before_import", "held", "runner"))
