"""The pre-commit hook and the documented GitHub Actions workflow: they parse, name
commands that exist, install marshalike from no package index, and the hook's command fails
on a spec whose outputs are missing and on a generated file edited by hand."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from fake_openai import FakeOpenAI

from marshalike.cli import scaffold
from marshalike.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def workflow_steps() -> list[dict[str, Any]]:
    workflow = load("docs/marshalike-check.yml")
    # YAML 1.1 reads the bare key `on` as True; GitHub reads it as "on".
    assert set(workflow.get("on", workflow.get(True))) == {"push", "pull_request"}
    [job] = workflow["jobs"].values()
    return job["steps"]


def commands() -> set[str]:
    import click

    return set(cli.list_commands(click.Context(cli)))


def test_pre_commit_hook() -> None:
    [hook] = load(".pre-commit-hooks.yaml")
    assert {k: hook[k] for k in ("id", "entry", "language", "files", "pass_filenames")} == {
        "id": "marshalike-check",
        "entry": scaffold.HOOK_ENTRY,
        "language": "python",
        "files": scaffold.HOOK_FILES,
        "pass_filenames": False,
    }
    assert hook["entry"] == "marshalike check ."
    # A spec, and every output it has: the module, its tests, its lock.
    for changed in ("specs/sort.mrsh", "specs/sort.py", "specs/test_sort.py", "sort.lock.json"):
        assert re.search(hook["files"], changed), changed
    assert not re.search(hook["files"], "specs/sort.mrsh.txt")


def test_workflow_installs_marshalike_and_fails_on_a_failed_check() -> None:
    steps = workflow_steps()
    runs = [step["run"] for step in steps if "run" in step]
    assert any('python -m pip install "$MARSHALIKE_SOURCE"' in run for run in runs)
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


def commands_run(data: Any) -> list[str]:
    """Every `run:` and `entry:` of parsed YAML, however deep."""
    if isinstance(data, dict):
        found = [v for k, v in data.items() if k in ("run", "entry") and isinstance(v, str)]
        return found + [line for value in data.values() for line in commands_run(value)]
    if isinstance(data, list):
        return [line for item in data for line in commands_run(item)]
    return []


def test_the_docs_yaml_parses_names_real_commands_and_no_index_version() -> None:
    docs = (ROOT / "docs" / "github-actions.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", docs, re.S)
    assert len(blocks) == 4
    named = set()
    for block in blocks:
        for line in commands_run(yaml.safe_load(block)):
            named.update(re.findall(r"\bmarshalike (\w+)", line))
    assert named == {"check", "compile"} and named <= commands()
    # marshalike is on no package index and has no release tags.
    assert not re.search(r"marshalike==|rev: v\d", docs)
    [local] = yaml.safe_load(blocks[1])["repos"]
    [hook] = local["hooks"]
    assert (hook["entry"], hook["files"]) == (scaffold.HOOK_ENTRY, scaffold.HOOK_FILES)


def hook_command(folder: Path) -> subprocess.CompletedProcess[str]:
    """The hook's entry, run as pre-commit runs it (no file names), in `folder`."""
    [hook] = load(".pre-commit-hooks.yaml")
    program, *args = hook["entry"].split()
    assert program == "marshalike" and not hook["pass_filenames"]
    env = {**os.environ, "GITHUB_ACTIONS": "true"}
    return subprocess.run(
        [sys.executable, "-m", "marshalike", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_hook_command_fails_on_a_hand_edited_output(tmp_path: Path) -> None:
    (tmp_path / "square.mrsh").write_text(
        "# func square(an integer): its square\n\nMultiply the number by itself.\n\n"
        "* square(2) = 4\n* square(-3) = 9\n",
        encoding="utf-8",
    )
    with FakeOpenAI(
        script=lambda request: "```python\ndef square(x):\n    return x * x\n```"
    ) as server:
        argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", server.base_url,
                "--model", "fake-model", "--candidates", "1"]  # fmt: skip
        compiled = CliRunner().invoke(cli, argv)
    assert compiled.exit_code == 0, compiled.output
    assert hook_command(tmp_path).returncode == 0
    module = tmp_path / "square.py"
    [hook] = load(".pre-commit-hooks.yaml")
    assert re.search(hook["files"], module.name)  # the edit alone makes the hook run
    module.write_text(module.read_text() + "\n# tweak\n", encoding="utf-8")
    done = hook_command(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "square.py was edited by hand" in done.stdout


def test_hook_command_fails_on_a_spec_without_outputs(tmp_path: Path) -> None:
    spec = tmp_path / "double.mrsh"
    spec.write_text("# func double(integer): integer\n\nTwice n.\n\n* double(2) = 4\n")
    done = hook_command(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    # Annotated on the spec itself, as the docs promise; the reason is check's to word.
    assert done.stderr.startswith("::error file=double.mrsh,line=1,col=1::")
    assert "missing" in done.stderr
