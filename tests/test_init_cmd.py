"""`marshalike init`: a project set up for marshalike, without overwriting anything; the
files it writes parse and name commands that exist."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from marshalike.cli import scaffold
from marshalike.cli.main import cli

COMMANDS = set(cli.list_commands(click.Context(cli)))
SOURCE = "git+https://example.org/someone/marshalike@0123456789abcdef0123456789abcdef01234567"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def marshalike_commands(text: str) -> set[str]:
    return set(re.findall(r"\bmarshalike (\w+)", text))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    result = run("init")
    assert result.exit_code == 0, result.output
    return tmp_path


def test_an_empty_folder_gets_every_file_and_its_spec_parses(project: Path) -> None:
    assert sorted(snapshot(project)) == [
        ".github/workflows/marshalike.yml", ".pre-commit-config.yaml", "pyproject.toml",
        "specs/reverse_text.mrsh",
    ]  # fmt: skip
    parsed = run("parse", ".")
    assert parsed.exit_code == 0, parsed.output
    assert "1 function, 4 examples (4 checkable)" in parsed.output
    # The table's settings are valid ones.
    assert run("config").exit_code == 0


@pytest.mark.slow
def test_the_first_spec_compiles_with_the_embedded_model_as_init_sets_it(project: Path) -> None:
    """A new user's first compile, as the line init prints says: the default model and
    the project's settings (its seed), nothing else."""
    command = [sys.executable, "-m", "marshalike", "compile", scaffold.SPEC_PATH,
               "--format", "json"]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=project, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    units = [unit for spec in json.loads(done.stdout) for unit in spec["units"]]
    assert [unit["status"] for unit in units] == ["verified"]
    assert (project / "specs" / "test_reverse_text.py").is_file()


def test_it_says_what_it_wrote(tmp_path: Path) -> None:
    result = run("init", str(tmp_path / "new"), "--source", SOURCE)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        f"wrote {tmp_path / 'new' / path}"
        for path in ("pyproject.toml", "specs/reverse_text.mrsh", ".pre-commit-config.yaml",
                     ".github/workflows/marshalike.yml")
    ]  # fmt: skip
    assert lines[4] == f"marshalike for CI: {SOURCE} (from --source)"


def test_a_second_run_changes_nothing(project: Path) -> None:
    before = snapshot(project)
    result = run("init")
    assert result.exit_code == 0
    assert snapshot(project) == before
    assert result.output.splitlines()[:4] == [
        "skipped pyproject.toml: it has [tool.marshalike] already",
        "skipped specs/reverse_text.mrsh: it exists",
        "skipped .pre-commit-config.yaml: it exists",
        "skipped .github/workflows/marshalike.yml: it exists",
    ]


@pytest.mark.parametrize("ending", ["\n", "", "\r\n"])
def test_an_existing_pyproject_keeps_its_bytes(tmp_path: Path, ending: str) -> None:
    old = f'[project]\nname = "x"  # keep me\n\n[tool.ruff]\nline-length = 90{ending}'.encode()
    (tmp_path / "pyproject.toml").write_bytes(old)
    assert run("init", str(tmp_path)).exit_code == 0
    new = (tmp_path / "pyproject.toml").read_bytes()
    assert new.startswith(old)
    assert new[len(old) :].decode().strip() == scaffold.TOOL_TABLE.strip()


def test_an_existing_table_and_files_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.marshalike]\nout = 'gen'\n")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    before = snapshot(tmp_path)
    assert run("init", str(tmp_path)).exit_code == 0
    after = snapshot(tmp_path)
    assert {name: after[name] for name in before} == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[x\n", "pyproject.toml: not valid TOML ("),
        ("tool = {a = 1}\n", "pyproject.toml: cannot append [tool.marshalike] to"),
    ],
)
def test_a_pyproject_it_cannot_extend_is_one_line_error(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    result = run("init", str(tmp_path))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("marshalike: error: ")
    assert message in result.output
    assert (tmp_path / "pyproject.toml").read_text() == text
    assert not (tmp_path / "specs").exists()


@pytest.mark.parametrize("source", ["https://example.org/m", "git+https://x y", 'git+https://"'])
def test_a_bad_source_is_refused(tmp_path: Path, source: str) -> None:
    result = run("init", str(tmp_path), "--source", source)
    assert result.exit_code == 2
    assert result.output.startswith("marshalike: error: --source ")
    assert result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_file_given_as_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    result = run("init", str(tmp_path / "f"))
    assert (result.exit_code, result.output) == (
        2,
        f"marshalike: error: {tmp_path / 'f'}: not a folder\n",
    )


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def check_workflow(workflow: dict[str, Any]) -> list[str]:
    """The workflow's shape; the commands its steps run."""
    assert set(workflow.get("on", workflow.get(True))) == {"push", "pull_request"}
    [job] = workflow["jobs"].values()
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert any('pip install "$MARSHALIKE_SOURCE"' in run for run in runs)
    assert "marshalike check --format junit . > marshalike-check.xml" in runs
    assert marshalike_commands("\n".join(runs)) <= COMMANDS
    return runs


def check_hook(config: dict[str, Any]) -> dict[str, Any]:
    [repo] = config["repos"]
    [hook] = repo["hooks"]
    assert hook["entry"] == "marshalike check ."
    assert marshalike_commands(hook["entry"]) <= COMMANDS
    assert hook["pass_filenames"] is False
    for changed in ("specs/a.mrsh", "specs/a.py", "specs/test_a.py", "specs/a.lock.json"):
        assert re.search(hook["files"], changed), changed
    assert not re.search(hook["files"], "README.md")
    return hook


def test_without_a_known_source_ci_reads_the_repository_variable(project: Path) -> None:
    workflow = load(project / ".github/workflows/marshalike.yml")
    assert workflow["env"] == {"MARSHALIKE_SOURCE": "${{ vars.MARSHALIKE_SOURCE }}"}
    check_workflow(workflow)
    hook = check_hook(load(project / ".pre-commit-config.yaml"))
    assert hook["language"] == "system"


def test_a_known_source_is_pinned_in_both(tmp_path: Path) -> None:
    assert run("init", str(tmp_path), "--source", SOURCE).exit_code == 0
    workflow = load(tmp_path / ".github/workflows/marshalike.yml")
    assert workflow["env"] == {"MARSHALIKE_SOURCE": SOURCE}
    check_workflow(workflow)
    hook = check_hook(load(tmp_path / ".pre-commit-config.yaml"))
    assert hook["language"] == "python"
    assert hook["additional_dependencies"] == [f"marshalike @ {SOURCE}"]


def test_the_documented_workflow_is_the_one_init_writes() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "marshalike-check.yml"
    assert docs.read_text(encoding="utf-8") == scaffold.workflow(None)


def test_a_git_install_is_its_own_source(monkeypatch: pytest.MonkeyPatch) -> None:
    class Dist:
        metadata: dict[str, list[str]] = {}

        def read_text(self, name: str) -> str:
            assert name == "direct_url.json"
            return (
                '{"url": "https://example.org/someone/marshalike", "vcs_info": '
                '{"vcs": "git", "commit_id": "0123456789abcdef0123456789abcdef01234567"}}'
            )

    monkeypatch.setattr(scaffold.metadata, "distribution", lambda name: Dist())
    found = scaffold.install_source()
    assert found == scaffold.Source(SOURCE, "the git URL pip installed marshalike from")
