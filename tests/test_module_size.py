"""Small modules named for what they do: no source file of the compiler or the runtime grows
past 500 lines."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 500


def test_no_source_file_is_over_the_limit() -> None:
    sources = [
        *(ROOT / "marshalike").rglob("*.py"),
        *(ROOT / "runtime").rglob("*.py"),
        *(ROOT / "runtime").rglob("*.[ch]"),
    ]
    assert sources
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sources
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert long == {}
