"""`check_spec` on specs that `# use` others: the sandbox gets the used specs' generated
modules (at any depth) from the output folder, and a missing one is a finding."""

from __future__ import annotations

import importlib.util
import json
import os
import py_compile
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI, Request

from marshalike.build.freshness import Finding, check_spec
from marshalike.cli.main import cli

SQ = """\
# func square(an integer): its square

Multiply the number by itself.

* square(3) = 9
"""
QUAD = """\
# use sq.mrsh

# func fourth(an integer): the number to the fourth power

Square the square.

* fourth(2) = 16
"""
# Two levels up: its generated module imports quad, which imports sq. Its `# use` is on
# line 3, where a finding about anything it reaches points.
TOP = """\


# use ../lib/quad.mrsh

# func eighth(an integer): the number to the eighth power

Square the fourth power.

* eighth(2) = 256
"""
# Most dependent first: a prompt may mention the functions it can call.
ANSWERS = {
    "`eighth`": "def eighth(x):\n    return fourth(x) * fourth(x)\n",
    "`fourth`": "def fourth(x):\n    return square(square(x))\n",
    "`square`": "def square(x):\n    return x * x\n",
}


def answer(request: Request) -> str:
    text = request.body["messages"][-1]["content"]
    return next(f"```python\n{code}```" for marker, code in ANSWERS.items() if marker in text)


@pytest.fixture(scope="module")
def compiled_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("uses")
    (root / "lib").mkdir()
    (root / "app").mkdir()
    (root / "lib" / "sq.mrsh").write_text(SQ, encoding="utf-8")
    (root / "lib" / "quad.mrsh").write_text(QUAD, encoding="utf-8")
    (root / "app" / "top.mrsh").write_text(TOP, encoding="utf-8")
    with FakeOpenAI(script=answer) as server:
        backend = ["--backend", "openai", "--base-url", server.base_url, "--model", "fake-model"]
        argv = [
            "compile",
            str(root / "app"),
            "--out",
            str(root / "out"),
            *backend,
            "--candidates",
            "1",
        ]
        result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def project(compiled_once: Path, tmp_path: Path) -> Path:
    """A copy per test, so a test may delete outputs."""
    shutil.copytree(compiled_once, tmp_path / "p")
    return tmp_path / "p"


def test_used_modules_at_every_depth_reach_the_sandbox(project: Path) -> None:
    # Compile wrote top's used specs into the same --out folder; check finds them there.
    assert sorted(p.name for p in (project / "out").glob("*.py")) == [
        "_marshalike_main.py",
        "quad.py",
        "sq.py",
        "test_quad.py",
        "test_sq.py",
        "test_top.py",
        "top.py",
    ]
    result = check_spec(project / "app" / "top.mrsh", out=project / "out")
    assert result.findings == ()
    assert [(t.test, t.status) for t in result.tests] == [("test_eighth_1", "pass")]


def test_without_out_the_used_modules_are_looked_for_beside_the_spec(project: Path) -> None:
    # A spec beside its outputs (no --out); its `# use ../lib/quad.mrsh` still resolves.
    shutil.copy(project / "app" / "top.mrsh", project / "out" / "top.mrsh")
    result = check_spec(project / "out" / "top.mrsh")
    assert result.findings == ()
    assert [(t.test, t.status) for t in result.tests] == [("test_eighth_1", "pass")]


def test_check_command_passes_a_spec_with_uses(project: Path) -> None:
    argv = ["check", str(project / "app"), str(project / "lib"), "--out", str(project / "out")]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("3 specs checked, 0 failed\n")


def test_the_support_module_is_recorded_and_a_hand_edit_of_it_is_a_finding(
    project: Path,
) -> None:
    out, top = project / "out", project / "app" / "top.mrsh"
    support = out / "_marshalike_main.py"
    assert '"_marshalike_main.py": "sha256:' in (out / "top.lock.json").read_text()
    support.write_text(support.read_text() + "# edited\n", encoding="utf-8")
    result = check_spec(top, out=out)
    message = (
        f"{support} was edited by hand (it no longer matches the lock); move the edits to "
        "the spec, then move the file away or delete it, and recompile"
    )
    assert result.findings == (Finding("edited", message, str(support)),)
    support.unlink()
    missing = check_spec(top, out=out).findings
    assert missing == (Finding("missing", f"{support} is missing: compile the spec", str(support)),)


def test_a_missing_used_module_is_a_finding_at_the_use_line(project: Path) -> None:
    (project / "out" / "sq.py").unlink()
    top = project / "app" / "top.mrsh"
    result = check_spec(top, out=project / "out")
    used, module = project / "lib" / "sq.mrsh", project / "out" / "sq.py"
    message = (
        f"{module} is missing: compile the used spec {used}"
        " (the generated tests import its module from this folder)"
    )
    assert result.findings == (Finding("missing", message, str(top), 3, 1),)
    assert result.tests == ()  # not run: they could only fail to import


def test_an_unreadable_used_spec_is_a_finding(project: Path) -> None:
    (project / "lib" / "sq.mrsh").write_bytes(b"\xff\xfe not utf-8")
    top = project / "app" / "top.mrsh"
    result = check_spec(top, out=project / "out")
    # top uses quad, which uses sq: top's `# use` line says why, down to sq.
    message = (
        "used spec '../lib/quad.mrsh' has 1 error, the first at line 1: cannot read used "
        "spec 'sq.mrsh' [M034]"
    )
    assert result.findings == (Finding("spec-error", message, str(top), 3, 1),)


LIB = """\
# func double(an integer): twice the number

Return the number times two.

* double(2) = 4
"""
APP = """\
# use lib.mrsh

# func quadruple(an integer): four times the number

Call double twice.

* quadruple(3) = double(6)
"""


def test_an_expected_value_may_call_a_used_function(tmp_path: Path) -> None:
    (tmp_path / "lib.mrsh").write_text(LIB, encoding="utf-8")
    (tmp_path / "app.mrsh").write_text(APP, encoding="utf-8")
    answers = {
        "`quadruple`": "def quadruple(x):\n    return double(double(x))\n",
        "`double`": "def double(x):\n    return 2 * x\n",
    }

    def script(request: Request) -> str:
        text = request.body["messages"][-1]["content"]
        return next(f"```python\n{code}```" for key, code in answers.items() if key in text)

    with FakeOpenAI(script=script) as server:
        argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", server.base_url,
                "--model", "fake-model", "--candidates", "1"]  # fmt: skip
        result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    checked = check_spec(tmp_path / "app.mrsh")
    assert checked.findings == ()
    assert [(t.test, t.status) for t in checked.tests] == [("test_quadruple_1", "pass")]


def test_a_used_spec_that_gained_a_function_makes_the_user_stale_not_edited(
    project: Path,
) -> None:
    """A used spec changed since its compile holds its module to nothing: the spec that
    uses it asks for a recompile of it; nobody edited anything by hand."""
    quad = project / "lib" / "quad.mrsh"
    quad.write_text(QUAD + "\n# func cube(an integer): its cube\n\nCube it.\n\n* cube(2) = 8\n")
    top = project / "app" / "top.mrsh"
    message = (
        f"the used spec quad.mrsh changed since it was compiled, so its module "
        f"{project / 'out' / 'quad.py'} is not held to it: recompile that spec"
    )
    assert check_spec(top, out=project / "out").findings == (Finding("stale", message, str(top)),)
    # A hand edit of the module is still one.
    quad.write_text(QUAD, encoding="utf-8")
    module = project / "out" / "top.py"
    module.write_text(module.read_text().replace("fourth(x) * fourth(x)", "256"))
    assert [f.kind for f in check_spec(top, out=project / "out").findings] == ["edited"]


def test_a_used_spec_without_its_lock_is_a_finding_of_the_spec_that_uses_it(
    project: Path,
) -> None:
    """sq.py, two `# use`s away from top, with its lock deleted (or its spec's hash in the
    lock rewritten) is held to nothing: code put there would run in top's tests unchecked."""
    module, lock = project / "out" / "sq.py", project / "out" / "sq.lock.json"
    module.write_text(module.read_text().replace("return x * x", "return 9 if x == 3 else 0"))
    top = project / "app" / "top.mrsh"
    data = json.loads(lock.read_text())
    lock.write_text(json.dumps({**data, "spec_hash": "sha256:" + "0" * 64}))
    (finding,) = check_spec(top, out=project / "out").findings
    assert (finding.kind, finding.path) == ("stale", str(top))
    assert finding.message.startswith("the used spec sq.mrsh changed since it was compiled")
    lock.unlink()
    (finding,) = check_spec(top, out=project / "out").findings
    assert finding == Finding(
        "stale",
        f"{module}, the module of the used spec sq.mrsh, has no lock ({lock} is missing), so "
        "nothing holds it: compile that spec",
        str(top),
    )


def test_a_used_module_edited_by_hand_is_a_finding_of_the_spec_that_uses_it(
    project: Path,
) -> None:
    """top's tests run with sq.py, two `# use`s away: a hand edit there, its lock left
    alone, fails top's check too, not only sq's."""
    module = project / "out" / "sq.py"
    module.write_text(module.read_text().replace("return x * x", "return 9 if x == 3 else 0"))
    top = project / "app" / "top.mrsh"
    (finding,) = check_spec(top, out=project / "out").findings
    assert finding.kind == "edited"
    assert finding.message.startswith(f"{module}, the module of the used spec sq.mrsh, is not")
    assert finding.message.endswith("; recompile that spec")


def test_a_package_that_shadows_a_used_module_is_a_finding(project: Path) -> None:
    """`import sq` finds a package `sq/` before sq.py: checking sq.py proves nothing of
    what the tests run."""
    package = project / "out" / "sq"
    package.mkdir()
    (package / "__init__.py").write_text("def square(x):\n    return 0\n")
    (finding,) = check_spec(project / "app" / "top.mrsh", out=project / "out").findings
    assert finding.kind == "edited"
    assert finding.message.startswith(f"{package} is a package, which `import sq` finds before")


def _bytecode(source: Path, code: str, at: Path, mode: str) -> None:
    """Bytecode of `code` at `at`, stamped for `source` as Python checks it: its time and
    size ("timestamp") or nothing ("unchecked-hash")."""
    other = at.parent / "other" / source.name
    other.parent.mkdir(parents=True, exist_ok=True)
    other.write_text(code)
    if mode == "timestamp":
        assert other.stat().st_size == source.stat().st_size
        os.utime(other, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns))
    invalidation = py_compile.PycInvalidationMode[mode.upper().replace("-", "_")]
    py_compile.compile(str(other), cfile=str(at), invalidation_mode=invalidation, doraise=True)
    shutil.rmtree(other.parent)


@pytest.mark.parametrize("mode", ["timestamp", "unchecked-hash"])
def test_bytecode_of_other_code_that_python_would_run_is_a_finding(
    project: Path, mode: str
) -> None:
    """`__pycache__/top.*.pyc` that Python takes for top.py (its header names top.py's time
    and size, or it is never checked) runs in its place: it must be what top.py makes."""
    module = project / "out" / "top.py"
    cached = Path(importlib.util.cache_from_source(str(module)))
    cached.parent.mkdir()
    wrong = module.read_text().replace("fourth(x) * fourth(x)", "fourth(x) + fourth(x)")
    _bytecode(module, wrong, cached, mode)
    (finding,) = check_spec(project / "app" / "top.mrsh", out=project / "out").findings
    assert finding.kind == "edited"
    assert finding.message.startswith(f"{cached} is bytecode of other code")


def test_bytecode_python_wrote_for_the_modules_is_no_finding(project: Path) -> None:
    for name in ("top", "quad", "sq"):
        module = project / "out" / f"{name}.py"
        py_compile.compile(str(module), doraise=True)
        assert Path(importlib.util.cache_from_source(str(module))).exists()
    assert check_spec(project / "app" / "top.mrsh", out=project / "out").findings == ()
