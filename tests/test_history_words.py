"""The tree speaks of what the project is and does; how it was built lives in git log. A
tracked text file that tells its own making (its numbered stages, the machine it was
built on, a scratch folder) fails this test, the way a style error fails ruff."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Spelled in pieces so that this file does not match itself.
HISTORY = re.compile(
    "|".join(
        [
            r"\bsess" + r"ions? \d+",
            "develop" + r"ment (machine|vm)\b",
            r"\.scr" + r"atch/",
            "work per" + "iods?",
        ]
    ),
    re.IGNORECASE,
)
TEXT = {".py", ".md", ".toml", ".txt", ".j2", ".sh", ".yml", ".yaml", ".json", ".c", ".lark"}


def test_no_tracked_text_tells_how_the_project_was_built() -> None:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    found = []
    for name in listed.stdout.splitlines():
        path = ROOT / name
        if (path.suffix not in TEXT and path.name != ".gitignore") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if HISTORY.search(line):
                found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not found, "\n".join(found)
