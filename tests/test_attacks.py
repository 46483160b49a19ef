"""The attack suite of issue 21: hostile candidates (tests/attacks/candidates.py), answered
by a scripted OpenAI-compatible server on 127.0.0.1 and run through the real pipeline.

Each attack runs three ways:
- `marshalike compile` takes it as the model's answer: it must not be written or called
  verified;
- `marshalike check` runs it as if a hostile process had written it into the generated
  module with a lock that agrees: it must not say ok (check reads no model output, so
  extract's static checks never see this code: the sandbox and the verdict channel do);
- `verify` runs it alone against an `Oracle`, so the runtime defence is exercised even for
  code extract refuses before it runs.
After each: no secret of the compiler's environment in any output or request, no file
changed outside the output folder, no process of the candidate's left, no connection made.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from attacks import ATTACKS, FUNCTIONS, RIGHT, SPECS, Attack
from click.testing import CliRunner
from fake_openai import FakeOpenAI

from marshalike.build.output import file_hash
from marshalike.cli.main import cli
from marshalike.codegen import emit
from marshalike.language.load import load_spec
from marshalike.sandbox.isolation import Limits, isolation
from marshalike.sandbox.oracle import Oracle, cases_of, records_of
from marshalike.sandbox.verify import verify

TOKEN = secrets.token_hex(6)  # this run's tag: files and processes a candidate leaves carry it
TAG = f"m{TOKEN}"  # a process name (at most 15 bytes)
SECRETS = {"OPENAI_API_KEY": f"sk-attack-{TOKEN}", "GITHUB_TOKEN": f"ghp_attack{TOKEN}"}
TIMEOUT = 1.0  # seconds per call: the right answer takes microseconds
OUTSIDE = [Path(p) / f"mrsh-{TOKEN}" for p in ("/tmp", "/var/tmp", "/dev/shm", Path.home())]


def fenced(code: str) -> str:
    return f"Here is the function:\n```python\n{code}```\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding every spec, compiled from right answers: what each attack starts
    from, and where a hostile module is forged from."""
    folder = tmp_path_factory.mktemp("template")
    for name, text in SPECS.items():
        (folder / f"{name}.mrsh").write_text(text, encoding="utf-8")

    def script(request) -> str:
        prompt = request.prompt_text
        return fenced(next(RIGHT[s] for s, f in FUNCTIONS.items() if f"`{f}`" in prompt))

    with FakeOpenAI(script=script) as server:
        result = invoke("compile", str(folder), *model_flags(server))
    assert result.exit_code == 0, result.output
    return folder


@dataclass
class Scene:
    """One attack's world: the project, a sentinel folder, a listening port, a model server."""

    project: Path
    sentinel: Path
    listener: socket.socket
    server: FakeOpenAI

    @property
    def places(self) -> dict[str, str]:
        return {
            "@PROJECT@": str(self.project),
            "@SENTINEL@": str(self.sentinel),
            "@TOKEN@": TOKEN,
            "@TAG@": TAG,
            "@PORT@": str(self.listener.getsockname()[1]),
        }


@pytest.fixture
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, template: Path) -> Iterator[Scene]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    project = tmp_path / "project"
    shutil.copytree(template, project)
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("nothing may change this\n")
    monkeypatch.chdir(project)  # what /proc/<compiler>/cwd would lead to
    with socket.socket() as listener, FakeOpenAI() as server:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.setblocking(False)
        yield Scene(project, sentinel, listener, server)
    for path in OUTSIDE:
        if path.exists():  # an attack got out: the test has failed; leave nothing behind
            path.unlink()


def invoke(*argv: str):
    return CliRunner().invoke(cli, list(argv), catch_exceptions=False)


def model_flags(server: FakeOpenAI, attempts: int = 1) -> list[str]:
    return ["--backend", "openai", "--base-url", server.base_url, "--model", "fake-model",
            "--candidates", "1", "--attempts", str(attempts), "--jobs", "1",
            "--timeout", str(TIMEOUT)]  # fmt: skip


def outputs(spec: str) -> tuple[str, ...]:
    """The files a compile of `spec` may write into its folder."""
    return (f"{spec}.py", f"test_{spec}.py", f"{spec}.lock.json", f"{spec}.failed.py")


def snapshot(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in skip and "__pycache__" not in path.parts
    }


def forged(module: Path, spec: str, code: str) -> str:
    """The generated module with `code` in place of the right function."""
    text = module.read_text()
    assert RIGHT[spec] in text
    return text.replace(RIGHT[spec], code)


def forge(project: Path, spec: str, code: str) -> None:
    """Put `code` into the generated module, and rewrite the lock to agree, as a hostile
    process with write access could."""
    text = forged(project / f"{spec}.py", spec, code)
    (project / f"{spec}.py").write_text(text)
    lock_file = project / f"{spec}.lock.json"
    lock = json.loads(lock_file.read_text())
    lock["outputs"][f"{spec}.py"] = file_hash(text)
    lock["units"][FUNCTIONS[spec]]["code"] = code
    lock_file.write_text(json.dumps(lock))


def leftovers() -> list[str]:
    """Processes a candidate started that still run (zombies are dead: not counted)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if (comm == TAG or TOKEN.encode() in cmdline) and state != "Z":
            found.append(f"{entry} {comm} {cmdline[:80]!r}")
    return found


def assert_contained(scene: Scene | None, texts: list[str], before: dict[Path, dict]) -> None:
    """No secret in any text, no file changed, no process left, nothing connected."""
    for text in texts:
        for name, value in SECRETS.items():
            assert value not in text, f"{name} leaked: {text[:2000]}"
    for folder, (skip, was) in before.items():
        assert snapshot(folder, skip) == was, f"{folder} changed"
    escaped = [str(p) for p in OUTSIDE if p.exists()]
    assert not escaped, f"written outside the sandbox: {escaped}"
    deadline = time.monotonic() + 3  # the kernel ends a namespace's processes asynchronously
    while (left := leftovers()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes outlived the run: {left}"
    if scene is not None:
        with pytest.raises(BlockingIOError):
            scene.listener.accept()[0].close()  # anything that connected


# What the verifier alone cannot tell: code that is right only where it senses a test
# running (the folder it runs in, how the process was started, its process id). Compile
# and check refuse it by name (tampering.py) before it runs; the bare verifier, given such
# a module, runs it as it is, and the code computes the right values there. docs/security.md
# lists this under what is not protected. Strict: a sniffer the verifier starts to catch
# makes its test fail until its mark goes.
_SNIFF = (
    "right only where it senses the verifier ({}); compile and check refuse it by name, "
    "the verifier alone cannot tell"
)
# Code right only where no frame of pytest's is on its stack: compile and check find its
# tests failing when they run the test file under pytest (`under_pytest`).
_PYTEST_FRAMES = (
    "wrong only under pytest, whose frames it reads ({}); compile and check run the test "
    "file under pytest, the verifier alone cannot tell"
)
# Code that skips its tests where pytest runs them, or ends pytest with status 0: compile
# and check count a test pytest does not say passed as one that failed, the verifier alone
# cannot tell.
_NOT_PASSED = (
    "right where it senses the verifier (add.__doc__ is None), {} where pytest runs it; "
    "compile and check count a test pytest does not say passed as failing, the verifier "
    "alone cannot tell"
)
# Code that breaks only what pytest runs after its tests (its cache plugin's writer):
# compile and check find the test file failing under pytest, the verifier alone cannot.
_AFTER_THE_TESTS = (
    "breaks only what pytest runs once its tests ran ({}); compile and check run the test "
    "file under pytest as a user does, the verifier alone cannot tell"
)
# (A standard module's table changed, or a forged pattern left in re's cache, which no
# watch reads, is caught once the expected values that read them run after the calls.)
# Code right in every value that runs a program as it is imported: compile and check
# refuse the import by name; the verifier alone judges values, and the sandbox has no
# browser for `antigravity` to open.
_PROGRAM = (
    "right, and runs a program on import ({}); compile and check refuse the import by name, "
    "the verifier alone judges only values"
)
VERIFIER_HOLES = {
    "sniff-runner-module": _SNIFF.format("__main__ has an `encode`"),
    "sniff-working-folder": _SNIFF.format("os.getcwd() == '/sandbox'"),
    "sniff-module-file": _SNIFF.format("__file__ under /sandbox"),
    "sniff-name-in-a-string": _SNIFF.format("getattr(os, 'getcwd')() == '/sandbox'"),
    "sniff-imported-name": _SNIFF.format("from os import getcwd"),
    "sniff-home-folder": _SNIFF.format("os.path.expanduser('~') == '/sandbox'"),
    "sniff-host-name": _SNIFF.format("socket.gethostname() == 'sandbox'"),
    "sniff-argv": _SNIFF.format("sys.argv[0] == '-c'"),
    "sniff-pid-namespace": _SNIFF.format("no /proc/self, a pid under 100"),
    "sniff-missing-docstring": _SNIFF.format("add.__doc__ is None"),
    "sniff-interpreter-flags": _SNIFF.format("sys.flags.isolated"),
    "sniff-pytest-frames": _PYTEST_FRAMES.format("traceback.extract_stack()"),
    "sniff-warning-frames": _PYTEST_FRAMES.format("a warning's `stacklevel`"),
    "sniff-skipped-under-pytest": _NOT_PASSED.format("skips its tests"),
    "sniff-exits-under-pytest": _NOT_PASSED.format("ends the process with status 0"),
    "cache-writer-broken": _AFTER_THE_TESTS.format("pathlib.Path.write_text"),
    "standard-module-running-a-program": _PROGRAM.format("import antigravity"),
}
# Holes seen only where the sandbox uses namespaces (with MARSHALIKE_SANDBOX=no-namespaces
# as root, at the "process limits" level, these candidates cannot tell and fail)
NAMESPACES_ONLY = {"sniff-runner-module", "sniff-working-folder", "sniff-pid-namespace",
                   "sniff-module-file", "sniff-name-in-a-string", "sniff-imported-name",
                   "sniff-home-folder", "sniff-host-name"}  # fmt: skip
LEVELS = {"namespaces": {"namespaces"}, "another user": {"namespaces", "unprivileged user"}}


def cases(attacks: tuple[Attack, ...] = ATTACKS, holes: dict[str, str] | None = None) -> list:
    params = []
    for attack in attacks:
        marks = []
        if holes and attack.name in holes:
            hole = attack.name not in NAMESPACES_ONLY or isolation() == "namespaces"
            marks.append(pytest.mark.xfail(hole, reason=holes[attack.name], strict=True))
        if attack.needs is not None and isolation() not in LEVELS[attack.needs]:
            reason = f"sandbox.py promises this defence only with {attack.needs} isolation"
            marks.append(pytest.mark.skip(reason=reason))
        params.append(pytest.param(attack, id=f"{attack.kind}:{attack.name}", marks=marks))
    return params


@pytest.mark.parametrize("attack", cases())
def test_compile_and_check_are_not_fooled(
    attack: Attack, scene: Scene, template: Path, tmp_path: Path
) -> None:
    spec, project, server = attack.spec, scene.project, scene.server
    for name in outputs(spec):
        (project / name).unlink(missing_ok=True)
    # good.mrsh's files and everything else the project holds must survive the attack
    watched = {project: (outputs(spec), snapshot(project, outputs(spec))),
               scene.sentinel: ((), snapshot(scene.sentinel))}  # fmt: skip
    code = attack.source(scene.places)
    server.script = lambda request: fenced(code)

    compiled = invoke("compile", str(project / f"{spec}.mrsh"),
                      *model_flags(server, attack.attempts))  # fmt: skip
    assert compiled.exit_code == 1, compiled.output
    assert not (project / f"{spec}.py").exists()
    lock_file = project / f"{spec}.lock.json"
    units = json.loads(lock_file.read_text())["units"] if lock_file.exists() else {}
    assert units.get(FUNCTIONS[spec], {}).get("status") != "verified"

    for name in outputs(spec)[:3]:
        shutil.copy(template / name, project / name)
    forge(project, spec, code)
    if attack.user_tests:
        assert_generated_tests_fail(project, spec, tmp_path)
    checked = invoke("check", str(project / f"{spec}.mrsh"), "--timeout", str(TIMEOUT))
    assert checked.exit_code == 1, checked.output
    assert ": ok" not in checked.stdout

    if attack.targets_good:
        assert_good_vouched_for_only_untouched(project, template, server)

    for said in (compiled.stdout, compiled.stderr, checked.stdout, checked.stderr):
        raw = {c for c in said if c < " " and c not in "\n\t" or "\x7f" <= c < "\xa0"}
        assert not raw, f"control characters reached the terminal: {raw}"
    requests = [json.dumps(r.body) for r in server.requests]
    written = [p.read_text(errors="replace") for p in project.glob(f"*{spec}*") if p.is_file()]
    texts = [compiled.stdout, compiled.stderr, checked.stdout, checked.stderr, *requests]
    assert_contained(scene, texts + written, watched)


def assert_good_vouched_for_only_untouched(
    project: Path, template: Path, server: FakeOpenAI
) -> None:
    """`check` and `compile --frozen` of the spec a candidate tried to rewrite say ok only
    while its files are still the ones compiled from the right answer."""
    untouched = all(
        (project / name).read_bytes() == (template / name).read_bytes()
        for name in outputs("good")[:3]
    )
    checked = invoke("check", str(project / "good.mrsh"), "--timeout", str(TIMEOUT))
    frozen = invoke("compile", str(project / "good.mrsh"), "--frozen", *model_flags(server))
    said_ok = (checked.exit_code, frozen.exit_code) == (0, 0)
    # untouched, they must still pass; rewritten (which assert_contained reports), they
    # must not vouch for the rewrite
    assert said_ok == untouched, checked.output + frozen.output


# The generated tests, run as pytest runs them but in a plain interpreter (pytest's own
# start-up would cost seconds per attack); a file, not `-c`, so sys.argv looks like a user's.
PLAIN_RUNNER = """\
import sys

module = __import__(sys.argv[1])
failed = []
for name in sorted(n for n in vars(module) if n.startswith("test_")):
    try:
        getattr(module, name)()
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}")
print("\\n".join(failed) or "all passed")
sys.exit(1 if failed else 0)
"""


def assert_generated_tests_fail(project: Path, spec: str, tmp_path: Path) -> None:
    """A user running the generated tests outside any sandbox is not fooled either (only
    for candidates that are harmless outside a sandbox)."""
    folder = tmp_path / "user"
    folder.mkdir()
    for name in (f"{spec}.py", f"test_{spec}.py"):
        shutil.copy(project / name, folder / name)
    (folder / "run_tests.py").write_text(PLAIN_RUNNER)
    argv = [sys.executable, "-B", "run_tests.py", f"test_{spec}"]
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    run = subprocess.run(
        argv, cwd=folder, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr


@pytest.fixture(scope="module")
def oracles(template: Path) -> dict[str, Oracle]:
    """Per spec, the expected values, computed once in the sandbox as `verify_module` does."""
    found = {}
    for spec in SPECS:
        module = load_spec(template / f"{spec}.mrsh").module
        assert module is not None
        types = [t.name for t in module.types]
        reference = emit.module_source(module, {}, spec_name=f"{spec}.mrsh", spec_hash="")
        found[spec] = Oracle(
            tuple(c for f in module.funcs for c in cases_of(f, types)),
            reference,
            module_name=spec,
            limits=Limits(timeout_s=TIMEOUT),
            records=records_of(module, spec, {}),
        )
    return found


@pytest.mark.parametrize("attack", cases(holes=VERIFIER_HOLES))
def test_the_verifier_alone_is_not_fooled(
    attack: Attack, oracles: dict[str, Oracle], scene: Scene
) -> None:
    watched = {scene.project: ((), snapshot(scene.project)),
               scene.sentinel: ((), snapshot(scene.sentinel))}  # fmt: skip
    module = forged(scene.project / f"{attack.spec}.py", attack.spec, attack.source(scene.places))
    verdict = verify(module, oracles[attack.spec])
    assert not verdict.ok, verdict
    assert_contained(scene, [repr(verdict)], watched)
