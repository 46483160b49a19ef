"""The pre-commit hook and the documented GitHub Actions workflow: they parse, name the
right command, and that command fails on a spec whose outputs are missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def workflow_steps() -> list[dict[str, Any]]:
    workflow = load("docs/marshalike-check.yml")
    # YAML 1.1 reads the bare key `on` as True; GitHub reads it as "on".
    assert set(workflow.get("on", workflow.get(True))) == {"push", "pull_request"}
    [job] = workflow["jobs"].values()
    return job["steps"]


def test_pre_commit_hook() -> None:
    [hook] = load(".pre-commit-hooks.yaml")
    assert {k: hook[k] for k in ("id", "entry", "language", "files", "pass_filenames")} == {
        "id": "marshalike-check",
        "entry": "marshalike check",
        "language": "python",
        "files": r"\.mrsh$",
        "pass_filenames": True,
    }
    assert re.search(hook["files"], "specs/sort.mrsh")
    assert not re.search(hook["files"], "specs/sort.mrsh.py")


def test_workflow_installs_marshalike_and_fails_on_a_failed_check() -> None:
    steps = workflow_steps()
    runs = [step["run"] for step in steps if "run" in step]
    assert any(re.search(r"pip install \"?marshalike\b", run) for run in runs)
    [check] = [step for step in steps if "marshalike check" in step.get("run", "")]
    assert check["run"] == "marshalike check --format junit . > marshalike-check.xml"
    # Nothing may swallow the exit status: no `|| true`, pipe or continue-on-error.
    assert "continue-on-error" not in check
    assert "|" not in check["run"]


def test_the_docs_show_the_workflow_file_verbatim() -> None:
    docs = (ROOT / "docs" / "github-actions.md").read_text(encoding="utf-8")
    workflow = (ROOT / "docs" / "marshalike-check.yml").read_text(encoding="utf-8")
    assert f"```yaml\n{workflow}```\n" in docs
    assert "marshalike-check.yml" in docs and "id: marshalike-check" in docs


def test_hook_command_fails_on_a_spec_without_outputs(tmp_path: Path) -> None:
    spec = tmp_path / "double.mrsh"
    spec.write_text("# func double(integer): integer\n\nTwice n.\n\n* double(2) = 4\n")
    [hook] = load(".pre-commit-hooks.yaml")
    program, *args = hook["entry"].split()
    assert program == "marshalike"
    env = {**os.environ, "GITHUB_ACTIONS": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "marshalike", *args, spec.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    # Annotated on the spec itself, as the docs promise; the reason is check's to word.
    assert done.stderr.startswith("::error file=double.mrsh,line=1,col=1::")
    assert "missing" in done.stderr
