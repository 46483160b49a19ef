"""Running a generated test file as a user runs it: `python -m pytest` in its folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_pytest(folder: Path, test_file: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest -q test_file` in `folder`, without the plugins installed here."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file]
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120, env=env)
