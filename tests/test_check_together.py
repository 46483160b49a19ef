"""`marshalike check` runs a folder's generated tests together too, in one pytest session,
as `pytest` in that folder runs them: one spec's code that changes what another spec's
tests read passes every check of a spec alone, and fails there."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fake_openai import FakeOpenAI

from marshalike.build.freshness import SpecCheck
from marshalike.build.together import checked_together
from marshalike.cli.main import cli
from marshalike.sandbox.isolation import Limits

# `adder` appends to a list of the standard library that no watch reads item by item
# (through a name of its own, which the refusal by name of `keyword.kwlist.append` misses),
# `reserved` reads that list: right alone, and wrong after adder's tests ran.
SPECS = {
    "adder": "# func add(a: int, b: int): int\n\nThe sum.\n\n* add(1, 2) = 3\n",
    "reserved": (
        "# func reserved(word: str): bool\n\nWhether Python reserves the word.\n\n"
        "* reserved('add') = False\n* reserved('if') = True\n"
    ),
}
ANSWERS = {
    "`add`": (
        "import keyword\n\n\ndef add(a, b):\n    words = keyword.kwlist\n"
        "    words.append('add')\n    return a + b\n"
    ),
    "`reserved`": "import keyword\n\n\ndef reserved(word):\n    return word in keyword.kwlist\n",
}


def answer(request) -> str:
    code = next(code for name, code in ANSWERS.items() if name in request.prompt_text)
    return f"```python\n{code}```"


def compiled(folder: Path) -> None:
    for name, text in SPECS.items():
        (folder / f"{name}.mrsh").write_text(text, encoding="utf-8")
    with FakeOpenAI(script=answer) as server:
        argv = ["compile", str(folder), "--backend", "openai", "--base-url", server.base_url,
                "--model", "fake-model", "--candidates", "1", "--attempts", "1",
                "--questions", "0"]  # fmt: skip
        result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output


def test_a_spec_whose_tests_fail_beside_anothers_fails_the_check(tmp_path: Path) -> None:
    compiled(tmp_path)
    for name in SPECS:  # each alone is fine
        alone = CliRunner().invoke(cli, ["check", str(tmp_path / f"{name}.mrsh")])
        assert alone.exit_code == 0, alone.output
    together = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert together.exit_code == 1, together.output
    assert "adder.mrsh: ok" in together.output
    assert (
        "reserved.mrsh: FAILED\n  test-failed: fails when its folder's generated tests run "
        "in one pytest session (FAILED test_reserved.py::test_reserved_1 - AssertionError: "
        "True (bool) is not" in together.output
    )


def passed(folder: Path, name: str, module: str, tests: str) -> SpecCheck:
    files = {f"{name}.py": module, f"test_{name}.py": tests}
    return SpecCheck(f"{name}.mrsh", "", tests_file=str(folder / f"test_{name}.py"), files=files)


def test_only_specs_that_passed_alone_in_one_folder_run_together(tmp_path: Path) -> None:
    breaker = passed(
        tmp_path,
        "a",
        "import string\n\n\ndef f():\n    string.digits = 'x'\n    return 1\n",
        "from a import f\n\n\ndef test_f_1():\n    assert f() == 1\n",
    )
    reader = passed(
        tmp_path,
        "b",
        "import string\n\n\ndef g():\n    return string.digits\n",
        "from b import g\n\n\ndef test_g_1():\n    assert g() == '0123456789'\n",
    )
    elsewhere = passed(tmp_path / "other", "c", reader.files["b.py"], reader.files["test_b.py"])
    limits = Limits(timeout_s=5.0)
    checks = checked_together([breaker, reader, elsewhere], limits)
    assert [c.ok for c in checks] == [True, False, True]
    (finding,) = checks[1].findings
    assert finding.path == str(tmp_path / "test_b.py")
    assert "(FAILED test_b.py::test_g_1 - AssertionError" in finding.message
    # Alone in its folder, or beside a spec that failed alone, a spec is not run again.
    failed = SpecCheck("a.mrsh", "", findings=checks[1].findings)
    assert checked_together([failed, reader], limits)[1].ok
    assert checked_together([breaker], limits)[0].ok
