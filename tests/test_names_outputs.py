"""Spec file names whose outputs Python or pytest would read as something else, and outputs
generated from another spec: compile refuses both with one line, before any model call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI, Request

from marshalike.build.output import foreign_output
from marshalike.cli.main import cli
from marshalike.language.reserved import spec_name_problem

SPEC = """\
# func square(n: int): int

Multiply the number by itself.

* square(2) = 4
* square(-3) = 9
* square(0) = 0
"""


def answer(request: Request) -> str:
    return "```python\ndef square(n):\n    return n * n\n```"


def compile_(server: FakeOpenAI, *specs: Path):
    argv = ["compile", *map(str, specs), "--backend", "openai", "--base-url", server.base_url,
            "--model", "fake-model", "--candidates", "1"]  # fmt: skip
    return CliRunner().invoke(cli, argv)


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("__init__", "__init__.py would make the output folder a package, and pytest could "
         "then import none of the test files in it: rename the spec"),
        ("__main__", "`import __main__` finds the running program, not the generated "
         "__main__.py: rename the spec"),
        ("__about__", "__about__.py is a name Python keeps for itself (__NAME__): rename the "
         "spec"),
        ("conftest", "conftest.py is the file pytest loads as the folder's own configuration: "
         "rename the spec"),
        ("pytest", "pytest.py would be imported in place of pytest's own pytest, which the "
         "generated test files need: rename the spec"),
        ("_pytest", "_pytest.py would be imported in place of pytest's own _pytest, which the "
         "generated test files need: rename the spec"),
        ("cmath", "cmath.py would be imported in place of the standard library's cmath, which "
         "the generated test files import: rename the spec"),
        ("importlib", "importlib.py would be imported in place of the standard library's "
         "importlib, which the generated test files import: rename the spec"),
    ],
)  # fmt: skip
def test_a_spec_named_like_a_file_python_or_pytest_reads_is_refused(
    tmp_path: Path, name: str, said: str
) -> None:
    assert spec_name_problem(name) == said
    spec = tmp_path / f"{name}.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    with FakeOpenAI(script=answer) as server:
        result = compile_(server, spec)
        assert server.count == 0
    assert result.exit_code != 0, result.output
    assert said in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [spec.name]


@pytest.mark.parametrize("name", ["square", "test_square", "square_test", "stats"])
def test_other_spec_names_are_not_refused_for_their_name(name: str) -> None:
    assert spec_name_problem(name) is None


@pytest.mark.parametrize("first", ["square", "test_square"])
def test_compile_never_overwrites_an_output_generated_from_another_spec(
    tmp_path: Path, first: str
) -> None:
    """`test_square.py` is the module of `test_square.mrsh` and the tests of `square.mrsh`:
    whichever compiles second, in a run of its own, is refused with one line naming the
    spec the file came from, and the file stays as it was."""
    second = "test_square" if first == "square" else "square"
    for name in (first, second):
        (tmp_path / f"{name}.mrsh").write_text(SPEC, encoding="utf-8")
    with FakeOpenAI(script=answer) as server:
        done = compile_(server, tmp_path / f"{first}.mrsh")
        assert done.exit_code == 0, done.output
        shared = (tmp_path / "test_square.py").read_text(encoding="utf-8")
        calls = server.count
        result = compile_(server, tmp_path / f"{second}.mrsh")
        assert server.count == calls
    assert result.exit_code != 0, result.output
    assert (
        f"{tmp_path / 'test_square.py'} was generated from {first}.mrsh, and compiling "
        f"{second}.mrsh would overwrite it: rename one of the specs, or compile them into "
        "different folders (--out)"
    ) in result.output
    assert (tmp_path / "test_square.py").read_text(encoding="utf-8") == shared


def test_a_spec_recompiles_over_its_own_outputs(tmp_path: Path) -> None:
    spec = tmp_path / "square.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    with FakeOpenAI(script=answer) as server:
        assert compile_(server, spec).exit_code == 0
        spec.write_text(SPEC + "* square(5) = 25\n", encoding="utf-8")
        result = compile_(server, spec)
    assert result.exit_code == 0, result.output
    assert "square(5)" in (tmp_path / "test_square.py").read_text(encoding="utf-8")


def test_a_header_names_the_spec_by_file_name_or_by_name_alone(tmp_path: Path) -> None:
    """A spec read without the `.mrsh` suffix names itself `NAME` on its outputs' first
    line; that is its own output too."""
    head = "# Code generated by marshalike from {}. DO NOT EDIT.\n# spec-hash: x\n"
    (tmp_path / "square.py").write_text(head.format("square"), encoding="utf-8")
    (tmp_path / "test_square.py").write_text(head.format("square.mrsh"), encoding="utf-8")
    assert foreign_output(tmp_path, "square") is None
    (tmp_path / "test_square.py").write_text(head.format("other.mrsh"), encoding="utf-8")
    assert foreign_output(tmp_path, "square") == (
        f"{tmp_path / 'test_square.py'} was generated from other.mrsh, and compiling "
        "square.mrsh would overwrite it: rename one of the specs, or compile them into "
        "different folders (--out)"
    )


def wrong(request: Request) -> str:
    return "```python\ndef square(n):\n    return n + n\n```"


def test_a_failed_compile_never_overwrites_a_failed_py_the_user_wrote(tmp_path: Path) -> None:
    """`NAME.failed.py` gets the protection of the other outputs: one of the user's own is
    refused with one line, before any model call, and stays as it was."""
    spec = tmp_path / "square.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    notes = tmp_path / "square.failed.py"
    notes.write_text("# my notes\n", encoding="utf-8")
    with FakeOpenAI(script=wrong) as server:
        result = compile_(server, spec)
        assert server.count == 0
    assert result.exit_code != 0, result.output
    assert (
        f"{notes} exists and was not written by marshalike: move it, or compile into another "
        "folder (--out)"
    ) in result.output
    assert "Traceback" not in result.output
    assert notes.read_text(encoding="utf-8") == "# my notes\n"
    assert not (tmp_path / "square.py").exists()


def test_a_failed_py_of_an_earlier_failed_compile_is_written_over(tmp_path: Path) -> None:
    spec = tmp_path / "square.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    with FakeOpenAI(script=wrong) as server:
        assert compile_(server, spec).exit_code == 1
        attempt = (tmp_path / "square.failed.py").read_text(encoding="utf-8")
        assert compile_(server, spec).exit_code == 1
    assert (tmp_path / "square.failed.py").read_text(encoding="utf-8") == attempt
    with FakeOpenAI(script=answer) as server:
        assert compile_(server, spec).exit_code == 0
    assert not (tmp_path / "square.failed.py").exists()


@pytest.mark.parametrize("name", ["square.py", "test_square.py", "_marshalike_main.py"])
def test_compile_refuses_to_overwrite_an_output_edited_by_hand(tmp_path: Path, name: str) -> None:
    """An output that no longer has the hash its lock records was edited since compile
    wrote it: a compile, of an unchanged spec or a changed one, refuses with one line
    rather than lose the edit; once the file is gone, compile writes it again."""
    spec = tmp_path / "square.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    edited = tmp_path / name
    with FakeOpenAI(script=answer) as server:
        assert compile_(server, spec).exit_code == 0
        text = edited.read_text(encoding="utf-8") + "# my edit\n"
        edited.write_text(text, encoding="utf-8")
        calls = server.count
        for spec_text in (SPEC, SPEC + "* square(5) = 25\n"):
            spec.write_text(spec_text, encoding="utf-8")
            result = compile_(server, spec)
            assert result.exit_code == 1, result.output
            advice = (  # the support module holds nothing of the spec's
                "move it away or delete it, and compile again"
                if name == "_marshalike_main.py"
                else "move the edits to the spec, then move the file away or delete it, and "
                "compile again"
            )
            assert (
                f"square.mrsh: not compiled: {edited} was edited by hand since marshalike "
                f"wrote it (it no longer has the hash its lock records): {advice}\n"
            ) in result.output
            assert edited.read_text(encoding="utf-8") == text
        assert server.count == calls  # refused before any model call
        edited.unlink()
        result = compile_(server, spec)
    assert result.exit_code == 0, result.output
    assert "# my edit" not in edited.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["square.py", "test_square.py"])
def test_without_a_lock_an_output_edited_by_hand_is_known_by_its_header(
    tmp_path: Path, name: str
) -> None:
    """With the lock deleted (to compile from scratch), the output hash in an output's own
    header still tells an edited file from the one compile wrote: the edit is refused with
    one line, and kept. An output as compile wrote it, line endings aside, and one from
    before outputs carried the hash are written over."""
    spec = tmp_path / "square.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    edited, lock = tmp_path / name, tmp_path / "square.lock.json"
    with FakeOpenAI(script=answer) as server:
        assert compile_(server, spec).exit_code == 0
        written = edited.read_text(encoding="utf-8")
        assert "\n# output-hash: sha256:" in written
        text = written.replace("\n\n\n", "\n\n\n# my edit\n", 1)
        edited.write_text(text, encoding="utf-8")
        lock.unlink()
        result = compile_(server, spec)
        assert result.exit_code == 1, result.output
        assert (
            f"square.mrsh: not compiled: {edited} was edited by hand since marshalike wrote it "
            "(it no longer has the output hash its header records): move the edits to the "
            "spec, then move the file away or delete it, and compile again\n"
        ) in result.output
        assert edited.read_text(encoding="utf-8") == text
        assert not lock.exists()
        edited.write_bytes(written.replace("\n\n\n", "\n\n\n# caf\u00e9\n", 1).encode("cp1252"))
        result = compile_(server, spec)  # saved again in another encoding: an edit too
        assert result.exit_code == 1, result.output
        assert "was edited by hand since marshalike wrote it" in result.output
        edited.write_bytes(written.replace("\n", "\r\n").encode("utf-8"))  # a checkout's
        assert compile_(server, spec).exit_code == 0
        lock.unlink()
        older = "".join(
            line for line in written.splitlines(keepends=True) if "output-hash" not in line
        )
        edited.write_text(older + "# an edit no header tells\n", encoding="utf-8")
        result = compile_(server, spec)
    assert result.exit_code == 0, result.output
    assert edited.read_text(encoding="utf-8") == written


def test_without_a_lock_a_support_module_not_as_compile_writes_it_is_refused(
    tmp_path: Path,
) -> None:
    """The support module carries no hash of its own: with no lock to say what was written
    there, a text other than the one compile writes today is kept, with one line."""
    spec = tmp_path / "square.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    support = tmp_path / "_marshalike_main.py"
    with FakeOpenAI(script=answer) as server:
        assert compile_(server, spec).exit_code == 0
        (tmp_path / "square.lock.json").unlink()
        assert compile_(server, spec).exit_code == 0  # as compile writes it: no edit
        (tmp_path / "square.lock.json").unlink()
        edited = support.read_text(encoding="utf-8") + "# my support tweak\n"
        support.write_text(edited, encoding="utf-8")
        result = compile_(server, spec)
    assert result.exit_code == 1, result.output
    assert (
        f"{support} is not the support module this marshalike writes, and no lock records "
        "what was written there (edited by hand, or written by another version): move it "
        "away or delete it, and compile again"
    ) in result.output
    assert support.read_text(encoding="utf-8") == edited


def test_a_support_module_a_newer_compile_wrote_is_not_a_hand_edit(tmp_path: Path) -> None:
    """`_marshalike_main.py` is shared by a folder's specs: the text compile writes today
    is never an edit, whatever hash an older compile recorded for it."""
    spec = tmp_path / "square.mrsh"
    spec.write_text(SPEC, encoding="utf-8")
    with FakeOpenAI(script=answer) as server:
        assert compile_(server, spec).exit_code == 0
        lock = tmp_path / "square.lock.json"
        data = json.loads(lock.read_text(encoding="utf-8"))
        data["outputs"]["_marshalike_main.py"] = "sha256:" + "0" * 64  # an older text's
        lock.write_text(json.dumps(data), encoding="utf-8")
        result = compile_(server, spec)
    assert result.exit_code == 0, result.output
