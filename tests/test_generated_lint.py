"""Model-written code that breaks ruff's default rules still makes a module that passes
`ruff check` and `ruff format --check` with ruff's defaults: each rule it breaks is named
and suppressed around that function alone, recorded in the lock, and `check` rebuilds the
same text from the lock. An example whose own text breaks a rule is treated the same way
in the test file. The server's answers are scripted TEST DOUBLES written for these
tests (code a model might write), not a model's output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from fake_openai import FakeOpenAI, Request

from marshalike.cli.main import cli

SPEC = """\
# func is_one(n: integer): boolean

Whether n is one.

* is_one(1) = true
* is_one(2) = false
* is_one(len(set([5, 5]))) = true

# func smaller(a: integer, b: integer): integer

The smaller of the two.

* smaller(1, 2) = 1
* smaller(5, 3) = 3

# func shout(word: string): string

The word in capitals.

* shout("hi") = "HI"
"""

# Each breaks rules of ruff's defaults: SIM103 (return the condition), F841 (a variable
# never read), PLR1730 (an `if` that is `min`); `import os` is used by nothing.
ANSWERS = {
    "`is_one`": (
        "import os\n\n"
        "def is_one(n):\n    seen = 0\n    if n == 1:\n        return True\n    else:\n"
        "        return False\n"
    ),
    "`smaller`": "def smaller(a, b):\n    if a > b:\n        a = b\n    return a\n",
    "`shout`": "def shout(word):\n    return word.upper()\n",
}


def script(request: Request) -> str:
    text = request.body["messages"][-1]["content"]
    code = next(code for marker, code in ANSWERS.items() if marker in text)
    return f"```python\n{code}```"


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_rules_a_models_code_breaks_are_suppressed_for_its_lines_only(tmp_path: Path) -> None:
    (tmp_path / "checks.mrsh").write_text(SPEC, encoding="utf-8")
    with FakeOpenAI(script=script) as server:
        argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url",
                server.base_url, "--model", "fake-model", "--candidates", "1",
                "--attempts", "1", "--questions", "0", "--timeout", "5"]  # fmt: skip
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    module = (tmp_path / "checks.py").read_text(encoding="utf-8")
    assert "import os" not in module  # nothing uses it
    assert "# ruff: disable[F841, SIM103]\n# fmt: off\ndef is_one(n):" in module
    assert "# ruff: disable[PLR1730]\n# fmt: off\ndef smaller(a, b):" in module
    assert module.count("# ruff: disable[") == 2  # shout breaks nothing
    tests = (tmp_path / "test_checks.py").read_text(encoding="utf-8")
    # the spec's own example text breaks C405 in the test of it, and only there
    assert tests.count("# ruff: disable[") == 1
    assert "# ruff: disable[C405]\n# checks.mrsh:7: is_one(len(set([5, 5])))" in tests
    lock = json.loads((tmp_path / "checks.lock.json").read_text(encoding="utf-8"))
    assert lock["lint"] == {"is_one": ["F841", "SIM103"], "smaller": ["PLR1730"]}

    ruff = (sys.executable, "-m", "ruff")
    done = run(*ruff, "check", "--isolated", "--no-cache", ".", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run(*ruff, "format", "--isolated", "--check", "--diff", ".", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # Without the suppressions, the same code fails: the test checks something.
    for name, text in (("checks.py", module), ("test_checks.py", tests)):
        bare = text.replace("# ruff: disable[", "# was disable[")
        (tmp_path / name).write_text(bare.replace("# ruff: enable[", "# was enable["))
    done = run(*ruff, "check", "--isolated", "--no-cache", ".", cwd=tmp_path)
    assert done.returncode == 1
    assert all(code in done.stdout for code in ("SIM103", "PLR1730", "C405")), done.stdout
    (tmp_path / "checks.py").write_text(module, encoding="utf-8")
    (tmp_path / "test_checks.py").write_text(tests, encoding="utf-8")

    checked = CliRunner().invoke(cli, ["check", str(tmp_path)], catch_exceptions=False)
    assert checked.exit_code == 0, checked.stdout + checked.stderr


def test_a_lock_whose_rules_are_not_rule_codes_is_refused(tmp_path: Path) -> None:
    from marshalike.build.lock import LockError, read_lock

    path = tmp_path / "x.lock.json"
    text = {"version": 1, "spec": "x.mrsh", "spec_hash": "", "units": {},
            "lint": {"f": ["F841]\nimport os  #"]}}  # fmt: skip
    path.write_text(json.dumps(text), encoding="utf-8")
    try:
        read_lock(path, "x.mrsh")
    except LockError as exc:
        assert "lint.f[0] is not a ruff rule code" in str(exc)
    else:
        raise AssertionError("a rule code that would write code into the module was read")
