"""Which of ruff's rules each function's model-written code breaks, so that the module can
say so for those lines and still pass `ruff check` with ruff's default rules.

The compiler keeps a model's code byte for byte (the lock holds what was verified; fixing
it would write code nobody ran), so a rule it breaks is suppressed around that function
alone, `# ruff: disable[...]` to `# ruff: enable[...]`, naming each rule. The rules are found
once, when the module is written, by the ruff installed beside marshalike, and recorded in
the lock: `marshalike check` rebuilds the same text from the lock without running ruff. The
test file's tests hold the spec's examples as written, suppressed the same way per test
(the lock's hash of the file covers them).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["broken_rules", "suppressed"]

_TIMEOUT = 60.0  # seconds; ruff checks a module in well under one


def suppressed(block: str, rules: Sequence[str], *, gap: str = "") -> str:
    """`block` with `rules` suppressed for its lines alone; `gap`, blank lines before the
    closing comment where `ruff format` wants them (after a function's body)."""
    if not rules:
        return block
    listed = ", ".join(rules)
    return f"# ruff: disable[{listed}]\n{block}\n{gap}# ruff: enable[{listed}]"


def broken_rules(text: str, blocks: Mapping[str, str], path: Path) -> dict[str, tuple[str, ...]]:
    """For each function whose block (`emit.model_blocks`) lies in the module `text`, to
    be written at `path`, the codes of the rules ruff's defaults find broken on its lines,
    sorted; functions that break none are left out. Empty when ruff cannot be run: the
    module is then written without suppressions, as correct as before."""
    findings = _findings(text, path)
    spans = {}
    for name, block in blocks.items():
        start = text.find(block)
        if start >= 0:
            first = text.count("\n", 0, start) + 1
            spans[name] = (first, first + block.count("\n"))
    broken: dict[str, set[str]] = {}
    for row, code in findings:
        for name, (first, last) in spans.items():
            if first <= row <= last:
                broken.setdefault(name, set()).add(code)
    return {name: tuple(sorted(codes)) for name, codes in sorted(broken.items())}


def _findings(text: str, path: Path) -> list[tuple[int, str]]:
    # Run from the module's folder, as `ruff check .` there would be: the modules beside it
    # are then first-party, as the module's import sections have them.
    command = [*_ruff(), "check", "--isolated", "--no-cache", "--quiet",
               "--output-format", "json", "--stdin-filename", path.name, "-"]  # fmt: skip
    try:
        done = subprocess.run(
            command,
            input=text,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
            cwd=path.parent if path.parent.is_dir() else None,
        )
        found = json.loads(done.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return []
    if not isinstance(found, list):
        return []
    return [
        (item["location"]["row"], item["code"])
        for item in found
        if isinstance(item, dict) and item.get("code") and item.get("location")
    ]


@functools.cache
def _ruff() -> tuple[str, ...]:
    """The ruff binary itself where the package says where it is (`python -m ruff` costs
    a Python start, five times ruff's own time on a module); else through Python."""
    try:
        from ruff.__main__ import find_ruff_bin

        return (os.fsdecode(find_ruff_bin()),)
    except (ImportError, FileNotFoundError):
        return (sys.executable, "-m", "ruff")
