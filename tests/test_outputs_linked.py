"""Files written where a symbolic link stands: compile's outputs and decompile's specs are
written through the link, whole, to the file it leads to, and the link stays a link."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner
from fake_openai import FakeOpenAI

from marshalike.cli.main import cli

SPEC = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4
* square(-3) = 9
"""


def answer(request: object) -> str:
    return "```python\ndef square(x):\n    return x * x\n```"


def compile_(folder: Path, server: FakeOpenAI) -> None:
    argv = ["compile", str(folder), "--backend", "openai", "--base-url", server.base_url,
            "--model", "fake-model", "--candidates", "1", "--questions", "0"]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output


def test_compile_writes_its_outputs_through_links_and_check_still_passes(tmp_path: Path) -> None:
    project, kept = tmp_path / "project", tmp_path / "kept"
    project.mkdir()
    kept.mkdir()
    (project / "square.mrsh").write_text(SPEC, encoding="utf-8")
    names = ["square.py", "test_square.py", "square.lock.json"]
    with FakeOpenAI(script=answer) as server:
        compile_(project, server)
        for name in names:  # the outputs kept elsewhere, linked from where compile writes
            (project / name).rename(kept / name)
            (project / name).symlink_to(kept / name)
        (project / "square.mrsh").write_text(SPEC + "* square(5) = 25\n", encoding="utf-8")
        compile_(project, server)
    for name in names:
        assert (project / name).is_symlink(), name
        assert os.readlink(project / name) == str(kept / name)
    assert "# square.mrsh:7: square(5) = 25" in (kept / "test_square.py").read_text("utf-8")
    assert sorted(p.name for p in kept.iterdir()) == sorted(names)
    checked = CliRunner().invoke(cli, ["check", str(project)])
    assert checked.exit_code == 0, checked.output


def test_decompile_force_writes_through_a_linked_spec(tmp_path: Path) -> None:
    (tmp_path / "double.py").write_text(
        'def double(n: int) -> int:\n    """Twice n."""\n    return 2 * n\n', encoding="utf-8"
    )
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "double.mrsh").write_text("old\n", encoding="utf-8")
    link = tmp_path / "double.mrsh"
    link.symlink_to(Path("specs") / "double.mrsh")
    argv = ["decompile", str(tmp_path / "double.py"), "--no-model", "--force"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(Path("specs") / "double.mrsh")
    assert "# func double(n: integer): integer" in (specs / "double.mrsh").read_text("utf-8")
    assert sorted(p.name for p in specs.iterdir()) == ["double.mrsh"]
