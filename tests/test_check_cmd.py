"""`marshalike check`: CI's view of generated code. It must never call a model."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI, Request

from marshalike.build.output import file_hash
from marshalike.cli.main import cli
from marshalike.codegen.stamp import stamped

SPEC = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4
* square(-3) = 9
"""


def answer(request: object) -> str:
    return "```python\ndef square(x):\n    return x * x\n```"


def tamper(folder: Path) -> None:
    """Make the generated code wrong and rewrite the lock and the file's output hash to
    match, as a hostile process could: the hashes then agree, so only running the examples
    can catch it."""
    module = folder / "square.py"
    text = stamped(module.read_text().replace("return x * x", "return 0"))
    module.write_text(text)
    lock = json.loads((folder / "square.lock.json").read_text())
    lock["outputs"]["square.py"] = file_hash(text)
    lock["units"]["square"]["code"] = "def square(x):\n    return 0\n"
    (folder / "square.lock.json").write_text(json.dumps(lock))


@pytest.fixture
def compiled(tmp_path: Path) -> tuple[Path, FakeOpenAI]:
    (tmp_path / "square.mrsh").write_text(SPEC, encoding="utf-8")
    server = FakeOpenAI(script=answer).start()
    argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", server.base_url,
            "--model", "fake-model", "--candidates", "1"]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    server.requests.clear()
    yield tmp_path, server
    server.stop()


def check(folder: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["check", str(folder), *args], env=env)


def test_fresh_output_passes_without_calling_a_model(compiled) -> None:
    folder, server = compiled
    result = check(folder)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{folder / 'square.mrsh'}: ok (2 tests passed)\n"
        "  square: examples pin down 2/2 variants\n"  # from the lock: the model is not asked
        "1 spec checked, 0 failed\n"
    )
    assert server.requests == []


def test_edited_spec_is_stale(compiled) -> None:
    folder, server = compiled
    (folder / "square.mrsh").write_text(SPEC.replace("by itself", "by itself."), encoding="utf-8")
    result = check(folder)
    assert result.exit_code == 1
    assert "stale: the spec changed since it was compiled: recompile it" in result.stdout
    assert server.requests == []


def test_a_spec_whose_last_compile_failed_is_said_so(compiled) -> None:
    folder, server = compiled
    server.script = lambda request: "```python\ndef square(x):\n    return x + x\n```"
    (folder / "square.mrsh").write_text(SPEC.replace("by itself", "by itself."), encoding="utf-8")
    argv = ["compile", str(folder), "--backend", "openai", "--base-url", server.base_url,
            "--model", "fake-model", "--candidates", "1", "--attempts", "1"]  # fmt: skip
    assert CliRunner().invoke(cli, argv).exit_code == 1
    result = check(folder)
    assert result.exit_code == 1
    assert (
        "stale: the last compile of the spec failed (its best attempt is in square.failed.py), "
        "so the outputs are from an earlier version of it: fix the spec or its examples and "
        "compile it"
    ) in result.stdout


def test_hand_edited_output_is_reported(compiled) -> None:
    folder, _ = compiled
    module = folder / "square.py"
    module.write_text(module.read_text() + "\n# tweak\n", encoding="utf-8")
    result = check(folder)
    assert result.exit_code == 1
    assert f"edited: {module} was edited by hand" in result.stdout


def test_missing_output_is_reported(compiled) -> None:
    folder, _ = compiled
    (folder / "test_square.py").unlink()
    result = check(folder)
    assert result.exit_code == 1
    assert f"missing: {folder / 'test_square.py'} is missing: compile the spec" in result.stdout


def test_failing_generated_tests_fail_the_check(compiled) -> None:
    folder, server = compiled
    tamper(folder)
    result = check(folder, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [t["status"] for t in report[0]["tests"]] == ["fail", "fail"]
    assert report[0]["findings"][0] == {
        "kind": "test-failed",
        "message": "test_square_1: square(2) should return 4, but it returned 0",
        "path": str(folder / "test_square.py"),
        "line": 1,
        "column": 1,
        "test": "test_square_1",
        "status": "fail",
    }
    assert server.requests == []


def test_junit_and_github_annotations(compiled) -> None:
    folder, _ = compiled
    tamper(folder)
    result = check(folder, "--format", "junit", env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1
    suites = ElementTree.fromstring(result.stdout.split("\n", 1)[1])
    cases = suites.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == ["test_square_1", "test_square_2"]
    failure = cases[0].find("failure")
    assert failure.get("message") == "test_square_1: square(2) should return 4, but it returned 0"
    assert failure.get("type") == "fail"
    assert f"::error file={folder / 'test_square.py'},line=1,col=1::test_square_1" in result.stderr


@pytest.mark.parametrize("name", ["test_square.py", "_marshalike_main.py"])
def test_an_output_rewritten_with_its_lock_hash_is_reported(compiled, name: str) -> None:
    """A test file whose tests no longer run, or a support module that runs code on
    import, with the lock's hash rewritten to agree: the lock proves nothing, so each must
    be what the compiler writes for the spec."""
    folder, _ = compiled
    path = folder / name
    assert path.exists(), sorted(p.name for p in folder.iterdir())
    text = "import os\n" + path.read_text().replace("def test_", "def _no_test_")
    path.write_text(text)
    lock = json.loads((folder / "square.lock.json").read_text())
    lock["outputs"][name] = file_hash(text)
    (folder / "square.lock.json").write_text(json.dumps(lock))
    result = check(folder)
    assert result.exit_code == 1, result.output
    assert f"{path} is not what the compiler writes for the spec" in result.output
    # Which is also what a test file written by another version of marshalike is.
    assert "or written by another version of marshalike); recompile the spec" in " ".join(
        result.output.split()
    )


@pytest.mark.parametrize("name", ["square.py", "test_square.py"])
@pytest.mark.parametrize(
    "own",
    [
        b"def square(x):\n    return x ** 2  # mine\n",
        b"# -*- coding: latin-1 -*-\n# caf\xe9\ndef square(x):\n    return x * x\n",
    ],
)
def test_compile_never_overwrites_a_file_it_did_not_write(
    tmp_path: Path, name: str, own: bytes
) -> None:
    """A hand-written `square.py` beside `square.mrsh` (the module a spec was decompiled
    from, say; in UTF-8 or not) is the user's: compile stops with one line before asking
    the model."""
    (tmp_path / "square.mrsh").write_text(SPEC, encoding="utf-8")
    (tmp_path / name).write_bytes(own)
    server = FakeOpenAI(script=answer).start()
    try:
        argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", server.base_url,
                "--model", "fake-model", "--candidates", "1"]  # fmt: skip
        result = CliRunner().invoke(cli, argv)
        assert server.requests == []
    finally:
        server.stop()
    assert result.exit_code != 0, result.output
    assert f"{tmp_path / name} exists and was not written by marshalike" in result.output
    assert (tmp_path / name).read_bytes() == own


@pytest.mark.parametrize("layout", ["two folders, one --out", "test_ prefix"])
def test_two_specs_of_one_run_never_write_the_same_output(tmp_path: Path, layout: str) -> None:
    """`a/square.mrsh` and `b/square.mrsh` into one folder, or `square.mrsh` and
    `test_square.mrsh` (both write `test_square.py`): the second is refused with one line,
    and the first's outputs stand."""
    if layout == "test_ prefix":
        specs = [tmp_path / "square.mrsh", tmp_path / "test_square.mrsh"]
        extra: list[str] = []
    else:
        specs = [tmp_path / "a" / "square.mrsh", tmp_path / "b" / "square.mrsh"]
        extra = ["--out", str(tmp_path / "out")]
    for spec in specs:
        spec.parent.mkdir(exist_ok=True)
        spec.write_text(SPEC, encoding="utf-8")
    server = FakeOpenAI(script=lambda request: answer(request)).start()
    try:
        argv = ["compile", *map(str, specs), "--backend", "openai", "--base-url",
                server.base_url, "--model", "fake-model", "--candidates", "1", *extra]  # fmt: skip
        result = CliRunner().invoke(cli, argv)
    finally:
        server.stop()
    assert result.exit_code != 0, result.output
    assert f"{specs[0]} also writes" in result.output


SPAN = """\
# func span(list of integers): an integer

Return the largest number minus the smallest.

* span([2, 9, 4]) = 7
* span([5]) = 0
* span([-3, 3]) = 6

# func twice_max(list of integers): an integer

Return twice the largest number.

* twice_max([2, 9, 4]) = 18
* twice_max([5]) = 10
* twice_max([-3, 3]) = 6
"""


def test_a_module_whose_functions_clash_is_not_written(tmp_path: Path) -> None:
    """Each function is verified in a module of its own code (and its dependencies'): two
    that define a helper of the same name differently each pass, but in the module written
    the later helper replaces the earlier. The module as written must pass every example."""
    (tmp_path / "calc.mrsh").write_text(SPAN, encoding="utf-8")
    helper = {"span": "max(xs) - min(xs)", "twice_max": "2 * max(xs)"}

    def reply(request: Request) -> str:
        name = "twice_max" if "twice_max" in request.prompt_text else "span"
        top = f"def _top(xs):\n    return {helper[name]}\n"
        return f"```python\n{top}\n\ndef {name}(xs):\n    return _top(xs)\n```"

    server = FakeOpenAI(script=reply).start()
    try:
        argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", server.base_url,
                "--model", "fake-model", "--candidates", "1", "--jobs", "1"]  # fmt: skip
        result = CliRunner().invoke(cli, argv)
    finally:
        server.stop()
    assert "the module made of the verified functions fails" in result.output, result.output
    assert result.exit_code != 0
    assert not (tmp_path / "calc.py").exists()


def test_a_line_break_in_a_path_is_shown_not_made(tmp_path: Path) -> None:
    """A folder named "evil\\nall: ok" cannot put a line of its own into the reports."""
    folder = tmp_path / "evil\nall: ok"
    folder.mkdir()
    (folder / "square.mrsh").write_text(SPEC, encoding="utf-8")
    checked = CliRunner().invoke(cli, ["check", str(folder)])
    assert checked.exit_code == 1
    assert not any(line.startswith("all: ok") for line in checked.stdout.splitlines())
    assert f"{tmp_path}/evil\\x0aall: ok/square.mrsh: FAILED" in checked.stdout
    parsed = CliRunner().invoke(cli, ["parse", str(folder)])
    assert parsed.stdout.count("\n") == 1 and "evil\\x0aall: ok" in parsed.stdout
    (folder / "square.mrsh").rename(folder / "typing.mrsh")  # a name compile refuses
    argv = ["compile", str(folder), "--backend", "openai", "--base-url", "http://127.0.0.1:9",
            "--model", "m"]  # fmt: skip
    compiled = CliRunner().invoke(cli, argv)
    assert compiled.exit_code == 1
    assert not any(line.startswith("all: ok") for line in compiled.stdout.splitlines())
    assert "evil\\x0aall: ok/typing.mrsh: not compiled: " in compiled.stdout


def test_a_malformed_lock_is_one_specs_finding_and_the_others_are_checked(compiled) -> None:
    folder, _ = compiled
    (folder / "other.mrsh").write_text(SPEC.replace("square", "other"), encoding="utf-8")
    (folder / "other.lock.json").write_text("{", encoding="utf-8")
    result = check(folder, "--format", "json")
    assert result.exit_code == 2  # README, "Exit status": a malformed lock
    report = {Path(spec["path"]).name: spec for spec in json.loads(result.stdout)}
    assert report["square.mrsh"]["ok"] is True
    (finding,) = report["other.mrsh"]["findings"]
    assert finding["kind"] == "malformed"
    assert "the lock file is malformed" in finding["message"]
