"""`marshalike decompile --round-trip`: each spec written is compiled as `compile` would
(here by a scripted OpenAI-compatible server, with the settings of the project's
pyproject.toml), into a temporary folder, and the compiled code is run next to the
original's measured answers: the spec's examples and the inputs not kept as examples. The
report says per function where they differ; the user's module is never touched."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

from fake_openai import FakeOpenAI, Request
from test_decompile import run_cli

CLAMP = '''def clamp(x: int) -> int:
    """x, kept between 0 and 10."""
    if x < 0:
        return 0
    if x > 10:
        return 10
    return x
'''
BODY = "    if x < 0:\n        return 0\n    if x > 10:\n        return 10\n    return x\n"
# What the decompile measures clamp on: its code's constants and their neighbours, and plain
# integers; the spec keeps a few of them as examples.
INPUTS = (-2, -1, 0, 1, 3, 9, 10, 11)
SETTINGS = "[tool.marshalike]\ncandidates = 2\nattempts = 1\nquestions = 0\ntimeout = 5\n"
FIGURES = re.compile(
    r"^  clamp: round trip: compiled, agrees with the original on (\d+)/(\d+) examples and "
    r"(\d+)/(\d+) other inputs(.*)$",
    re.MULTILINE,
)


def clamp(x: int) -> int:
    return max(0, min(10, x))


def code(body: str) -> str:
    return f"Here it is:\n```python\ndef clamp(x):\n{body}```\n"


def project(tmp_path: Path) -> Path:
    (tmp_path / "clamp.py").write_text(CLAMP, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(SETTINGS, encoding="utf-8")
    return tmp_path


def round_trip(tmp_path: Path, script: Callable[[Request], str], *more: str):
    with FakeOpenAI(script=script) as server:
        done = run_cli("clamp.py", "--round-trip", "--backend", "openai", "--base-url",
                       server.base_url, "--model", "fake-model", *more, cwd=tmp_path)  # fmt: skip
        asked = [r.prompt_text for r in server.requests if r.path.endswith("completions")]
    assert "Traceback" not in done.stderr
    return done, asked


def kept(tmp_path: Path) -> dict[int, int]:
    """The examples of the written spec: argument -> answer."""
    spec = (tmp_path / "clamp.mrsh").read_text(encoding="utf-8")
    found = re.findall(r"^\* clamp\((-?\d+)\) = (-?\d+)$", spec, re.MULTILINE)
    return {int(x): int(answer) for x, answer in found}


def test_code_equal_to_the_original_agrees_on_every_example_and_every_other_input(
    tmp_path: Path,
) -> None:
    project(tmp_path)
    done, asked = round_trip(tmp_path, lambda request: code(BODY))
    assert done.returncode == 0, done.stderr
    assert asked and all("Implement the function `clamp`" in text for text in asked)
    [(held, run, other_held, other_run, rest)] = FIGURES.findall(done.stdout)
    assert held == run == str(len(kept(tmp_path))) and int(run) >= 3
    assert other_held == other_run and int(other_run) == len(INPUTS) - int(run)
    assert rest == ""
    lines = done.stdout.splitlines()
    assert lines[0] == "clamp.py -> clamp.mrsh" and lines[1].startswith("  clamp: ")
    assert lines[2].startswith("  clamp: round trip: compiled")
    assert lines[-1] == (
        "round trip: 1 function: 1 compiled and agrees with the original on every input "
        "run, 0 compiled and differ, 0 did not compile"
    )


def test_code_that_passes_the_examples_but_differs_elsewhere_is_shown_where(
    tmp_path: Path,
) -> None:
    project(tmp_path)
    chosen: list[int] = []

    def script(request: Request) -> str:
        # The spec is written before any compile starts: the code is wrong at the first
        # measured input it does not keep.
        chosen[:] = [next(x for x in INPUTS if x not in kept(tmp_path))]
        return code(f"    if x == {chosen[0]}:\n        return {clamp(chosen[0]) + 100}\n{BODY}")

    done, _ = round_trip(tmp_path, script)
    assert done.returncode == 0, done.stderr
    [x] = chosen
    [(held, run, other_held, other_run, rest)] = FIGURES.findall(done.stdout)
    assert held == run and int(other_held) == int(other_run) - 1
    assert rest == f" (differs at clamp({x}): {clamp(x) + 100}, not {clamp(x)})"
    assert done.stdout.splitlines()[-1] == (
        "round trip: 1 function: 0 compiled and agree with the original on every input "
        "run, 1 compiled and differs, 0 did not compile"
    )


def test_code_that_fails_the_examples_did_not_compile(tmp_path: Path) -> None:
    project(tmp_path)
    done, _ = round_trip(tmp_path, lambda request: code("    return -999\n"))
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "round trip:" in line][:1]
    failure = re.fullmatch(
        r"  clamp: round trip: did not compile \(clamp\((-?\d+)\) should return (-?\d+), but "
        r"it returned -999\)",
        line,
    )
    assert failure is not None, line
    assert kept(tmp_path)[int(failure[1])] == int(failure[2])
    assert done.stdout.splitlines()[-1].endswith(", 0 compiled and differ, 1 did not compile")


def test_a_function_that_compiled_beside_one_that_did_not_is_still_compared(
    tmp_path: Path,
) -> None:
    project(tmp_path)
    double = 'def double(n: int) -> int:\n    """Twice n."""\n    return 2 * n\n'
    (tmp_path / "clamp.py").write_text(f"{CLAMP}\n\n{double}", encoding="utf-8")

    def script(request: Request) -> str:
        if "Implement the function `double`" in request.prompt_text:
            return "```python\ndef double(n):\n    return n + n\n```\n"
        return code("    return -999\n")

    done, _ = round_trip(tmp_path, script)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if ": round trip: " in line]
    assert [line.split(": round trip: ")[0] for line in lines] == ["  clamp", "  double"]
    assert lines[0].startswith("  clamp: round trip: did not compile (clamp(")
    assert re.fullmatch(
        r"  double: round trip: compiled, agrees with the original on (\d+)/\1 examples and "
        r"(\d+)/\2 other inputs",
        lines[1],
    ), lines[1]
    assert done.stdout.splitlines()[-1] == (
        "round trip: 2 functions: 1 compiled and agrees with the original on every input "
        "run, 0 compiled and differ, 1 did not compile"
    )


def test_the_original_is_untouched_and_only_the_spec_is_written_beside_it(
    tmp_path: Path,
) -> None:
    folder = project(tmp_path)
    before = (folder / "clamp.py").read_bytes()
    done, _ = round_trip(tmp_path, lambda request: code("    return max(0, min(10, x))\n"))
    assert done.returncode == 0, done.stderr
    assert "clamp: round trip: compiled" in done.stdout
    assert (folder / "clamp.py").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["clamp.mrsh", "clamp.py", "pyproject.toml"]
    ast.parse(before)  # still the user's module, not a generated one
    assert b"DO NOT EDIT" not in before


def test_a_compile_that_cannot_start_is_one_line_and_the_spec_stays(tmp_path: Path) -> None:
    project(tmp_path)
    with FakeOpenAI(models=[]) as server:
        done = run_cli("clamp.py", "--round-trip", "--backend", "openai", "--base-url",
                       server.base_url, cwd=tmp_path)  # fmt: skip
    assert done.returncode != 0
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("marshalike: error: ") and "--model" in done.stderr
    assert (tmp_path / "clamp.mrsh").is_file()
    assert done.stdout.splitlines()[0] == "clamp.py -> clamp.mrsh"
    assert "round trip" not in done.stdout


def test_a_round_trip_needs_a_model(tmp_path: Path) -> None:
    project(tmp_path)
    done = run_cli("clamp.py", "--round-trip", "--no-model", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "marshalike: error: --round-trip compiles the specs with a model: drop --no-model\n"
    )
    assert not (tmp_path / "clamp.mrsh").exists()


def test_the_option_is_in_the_help(tmp_path: Path) -> None:
    assert "--round-trip" in run_cli("--help", cwd=tmp_path).stdout


ADULT = '''def adult(age: int) -> bool:
    """Whether someone of this age is an adult."""
    return age >= 18
'''


def test_code_that_compares_with_a_constant_the_docstring_never_names_compiles_back(
    tmp_path: Path,
) -> None:
    """The examples land on both sides of `age >= 18`; the spec says the constant, so the
    probe gate does not take the original code for code fitted to `adult(18)`."""
    (tmp_path / "adult.py").write_text(ADULT, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(SETTINGS, encoding="utf-8")
    original = "```python\ndef adult(age):\n    return age >= 18\n```\n"
    with FakeOpenAI(script=lambda request: original) as server:
        done = run_cli("adult.py", "--round-trip", "--backend", "openai", "--base-url",
                       server.base_url, "--model", "fake-model", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    spec = (tmp_path / "adult.mrsh").read_text(encoding="utf-8")
    assert "* adult(18) = True" in spec and "* adult(17) = False" in spec
    assert "\nConstants of the code, as it has them: `age >= 18`.\n" in spec
    assert re.search(
        r"^  adult: round trip: compiled, agrees with the original on (\d+)/\1 examples and "
        r"(\d+)/\2 other inputs$",
        done.stdout,
        re.MULTILINE,
    ), done.stdout
