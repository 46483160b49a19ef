"""The sandboxed verifier, attacked on purpose: loops, allocations, fork loops, secrets,
values that lie about their type, and tampering with the verdict channel."""

from __future__ import annotations

import ast
import os
import sys

import pytest

from marshalike.sandbox.isolation import Limits, isolation
from marshalike.sandbox.oracle import Case, Oracle
from marshalike.sandbox.verify import Verdict, verify

CASES = (
    Case("test_f_1", "f(2)", "returns", "4", None),
    Case("test_f_2", "f(3)", "returns", "9", None),
)
NAMES = ("test_f_1", "test_f_2")
FAST = Limits(timeout_s=5.0, memory_mb=1024)
REFERENCE = "def f(x):\n    raise NotImplementedError\n"


def run(
    body: str, cases: tuple[Case, ...] = CASES, limits: Limits = FAST, records: tuple = ()
) -> Verdict:
    oracle = Oracle(cases, REFERENCE, module_name="cand", limits=limits, records=records)
    return verify(body, oracle)


def expecting(*values: str) -> tuple[Case, ...]:
    return tuple(
        Case(f"test_f_{i}", call, "returns", value, None)
        for i, (call, value) in enumerate(zip(("f(2)", "f(3)"), values, strict=True), 1)
    )


def test_correct_candidate_passes() -> None:
    verdict = run("def f(x):\n    return x * x\n")
    assert verdict.ok
    assert [r.status for r in verdict.results] == ["pass", "pass"]


def test_wrong_candidate_reports_expected_and_actual() -> None:
    verdict = run("def f(x):\n    return x + 2\n")
    assert not verdict.ok
    first, second = verdict.results
    assert first.status == "pass"
    assert (second.status, second.expected, second.actual) == ("fail", "9", "5")
    assert (second.func, second.index) == ("f", 2)


def test_exception_reports_type_message_and_traceback_tail() -> None:
    verdict = run("def f(x):\n    return {}[x]\n")
    result = verdict.results[0]
    assert (result.status, result.error_type, result.message) == ("error", "KeyError", "2")
    assert "KeyError: 2" in result.traceback


def test_import_error_fails_every_example() -> None:
    verdict = run("import not_a_module_anywhere\n\ndef f(x):\n    return x\n")
    assert not verdict.ok
    assert {r.status for r in verdict.results} == {"error"}
    assert "not_a_module_anywhere" in verdict.problem


def test_an_example_that_is_not_python_never_counts_as_passing() -> None:
    cases = (*CASES, Case("test_f_3", "f(", "returns", "1", None))
    verdict = run("def f(x):\n    return x * x\n", cases=cases)
    assert not verdict.ok
    assert verdict.results[2].status == "error"


def test_infinite_loop_is_timed_out_and_names_the_example() -> None:
    body = "def f(x):\n    if x == 3:\n        while True:\n            pass\n    return x * x\n"
    verdict = run(body, limits=Limits(timeout_s=2.0, memory_mb=1024))
    assert [r.status for r in verdict.results] == ["pass", "timeout"]
    assert verdict.problem is None


def test_catching_everything_does_not_escape_the_timeout() -> None:
    body = (
        "def f(x):\n    while True:\n        try:\n            while True:\n"
        "                pass\n        except Exception:\n            pass\n"
    )
    verdict = run(body, limits=Limits(timeout_s=1.0, memory_mb=1024))
    assert [r.status for r in verdict.results] == ["timeout", "timeout"]


def test_a_hang_that_ignores_the_alarm_is_killed_by_the_wall_clock() -> None:
    body = (
        "import signal\n\ndef f(x):\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "    while True:\n        pass\n"
    )
    verdict = run(body, limits=Limits(timeout_s=1.0, startup_s=4.0, memory_mb=1024))
    assert [r.status for r in verdict.results] == ["timeout", "timeout"]


def test_huge_allocation_is_stopped() -> None:
    verdict = run("def f(x):\n    return len(bytearray(10 * 1024**3))\n")
    assert not verdict.ok
    assert verdict.results[0].status == "error"
    assert verdict.results[0].error_type == "MemoryError"


def test_fork_loop_is_stopped() -> None:
    body = "import os\n\ndef f(x):\n    while True:\n        os.fork()\n"
    verdict = run(body, limits=Limits(timeout_s=5.0, memory_mb=1024, max_procs=32))
    assert not verdict.ok
    assert verdict.results[0].status in {"error", "timeout"}


def test_secrets_do_not_reach_generated_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-of-the-compiler")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    body = (
        "import os\n\ndef f(x):\n"
        "    if x == 2:\n        return os.environ.get('OPENAI_API_KEY')\n"
        "    return [k for k in os.environ if 'KEY' in k or 'TOKEN' in k or 'SECRET' in k]\n"
    )
    verdict = run(body, cases=expecting("None", "[]"))
    assert os.environ["OPENAI_API_KEY"] == "sk-secret-of-the-compiler"
    assert [r.status for r in verdict.results] == ["pass", "pass"]


def test_runs_in_a_folder_of_its_own() -> None:
    body = "import os\n\ndef f(x):\n    return sorted(os.listdir('.'))\n"
    verdict = run(body, cases=expecting("['cand.py']", "['cand.py']"))
    assert verdict.ok, verdict.results


@pytest.mark.parametrize(
    "body, why",
    [
        ("class A:\n    def __eq__(self, o): return True\n\ndef f(x):\n    return A()", "A"),
        ("class I(int):\n    def __eq__(self, o): return True\n\ndef f(x):\n    return I(0)",
         "subclass of int"),
        ("class I(int):\n    def __repr__(self): return '4'\n\ndef f(x):\n    return I(4)",
         "subclass of int"),
    ],
)  # fmt: skip
def test_values_that_lie_about_their_type_fail(body: str, why: str) -> None:
    verdict = run(body)
    assert not verdict.ok
    assert all(r.status == "fail" for r in verdict.results)
    assert why in (verdict.results[0].message or "")


def test_true_is_not_one_and_nan_is_nothing() -> None:
    verdict = run("def f(x):\n    return True", cases=expecting("1", "True"))
    assert [r.status for r in verdict.results] == ["fail", "pass"]
    nan = run("def f(x):\n    return float('nan')", cases=expecting("float('nan')", "1.5"))
    assert [r.status for r in nan.results] == ["fail", "fail"]


def test_floats_match_within_the_tolerance_and_ints_stand_for_floats() -> None:
    verdict = run("def f(x):\n    return 0.1 + 0.2 if x == 2 else 9", cases=expecting("0.3", "9.0"))
    assert verdict.ok, verdict.results
    strict = run("def f(x):\n    return 4.0 if x == 2 else 9", cases=expecting("4", "9"))
    assert [r.status for r in strict.results] == ["fail", "pass"]


def test_the_expected_value_never_reaches_the_candidate() -> None:
    body = (
        "import sys, gc\n\ndef f(x):\n"
        "    seen = [repr(o) for o in gc.get_objects() if isinstance(o, (int, str))]\n"
        "    frame = sys._getframe(1)\n"
        "    found = [v for v in frame.f_locals.values() if v in (4, 9, '4', '9')]\n"
        "    return found[0] if found else -1\n"
    )
    verdict = run(body)
    assert [r.status for r in verdict.results] == ["fail", "fail"]


@pytest.mark.parametrize(
    "body",
    [
        # forged answers for the calls to come, then an exit
        "import os, sys, json\n\ndef f(x):\n"
        "    for i in range(5):\n"
        '        os.write(1, b\'{"id": "x", "returned": ["int", "4"]}\\n\')\n'
        "    os._exit(0)\n",
        # the runner's encoder replaced through sys.modules
        "import sys\n\ndef f(x):\n"
        "    sys.modules['__main__'].encode = lambda v, d, b: ['int', '4']\n    return 0\n",
        # a child that answers after its parent exits
        "import os, time\n\ndef f(x):\n    if os.fork() == 0:\n        time.sleep(0.5)\n"
        "        os.write(1, b'x')\n        os._exit(0)\n    os._exit(0)\n",
        # an atexit handler
        "import atexit, os\n\ndef f(x):\n"
        "    atexit.register(lambda: os.write(1, b'ok'))\n    raise SystemExit(0)\n",
    ],
)
def test_tampering_with_the_channel_never_passes(body: str) -> None:
    verdict = run(body)
    assert not verdict.ok
    assert verdict.results[1].status != "pass"


@pytest.mark.skipif(isolation() != "namespaces", reason="needs Linux namespaces")
def test_the_compilers_files_environment_and_network_are_out_of_reach() -> None:
    here = os.path.abspath(__file__)
    body = (
        "import os, socket\n\ndef f(x):\n"
        "    found = []\n"
        f"    for p in ({here!r}, '/proc/1/environ', '/etc/passwd'):\n"
        "        found.append(os.path.exists(p))\n"
        "    for p in ('/usr/x', '/x', '/var/tmp/x'):\n"
        "        try:\n            open(p, 'w').close()\n            found.append(True)\n"
        "        except OSError:\n            found.append(False)\n"
        "    try:\n        socket.create_connection(('127.0.0.1', 1), timeout=1)\n"
        "        found.append(True)\n"
        "    except OSError as e:\n        found.append(e.errno != 101)\n"
        "    return found\n"
    )
    none = repr([False] * 7)
    verdict = run(body, cases=expecting(none, none))
    assert verdict.ok, verdict.results


@pytest.mark.skipif(isolation() != "namespaces", reason="needs Linux namespaces")
def test_no_process_outlives_the_run(tmp_path) -> None:
    body = (
        "import os, time\n\ndef f(x):\n"
        "    for _ in range(3):\n"
        "        if os.fork() == 0:\n            os.setsid()\n            time.sleep(60)\n"
        "            os._exit(0)\n"
        "    return x * x\n"
    )
    before = _sandbox_processes()
    run(body)
    assert _sandbox_processes() <= before


def _sandbox_processes() -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if b"time.sleep(60)" in handle.read() or b"_marshalike" in handle.read():
                        found.add(int(entry))
            except OSError:
                continue
    return found


POINT = "from dataclasses import dataclass\n\n\n@dataclass\nclass Point:\n    x: int\n    y: int\n"


@pytest.mark.parametrize(
    "added, why",
    [
        ("class Point:\n    pass\n", "redefines the declared type Point"),
        (POINT.split("\n\n\n")[1], "defines the declared type Point 2 times"),
        ("Point = tuple\n", "rebinds the declared type Point"),
        ("def f():\n    global Point\n", "rebinds the declared type Point"),
        ("from collections import namedtuple as Point\n", "rebinds the declared type Point"),
    ],
)
def test_a_module_that_changes_a_declared_type_is_caught(added: str, why: str) -> None:
    from marshalike.sandbox.verify import redefined_types

    declared = {"Point": ast.dump(ast.parse(POINT).body[1])}
    assert redefined_types(POINT, declared) is None
    assert redefined_types(POINT + added, declared) == why
    changed = POINT.replace("y: int", "y: int\n\n    def __eq__(self, other):\n        return True")
    assert redefined_types(changed, declared) == "redefines the declared type Point"


def test_a_record_of_the_candidates_own_class_is_not_the_declared_one() -> None:
    cases = (Case("test_f_1", "f(2)", "returns", "P(2)", None),)
    reference = (
        "from dataclasses import dataclass\n\n\n@dataclass\nclass P:\n    v: int\n\n\n"
        "def f(x):\n    raise NotImplementedError\n"
    )
    impostor = reference.replace(
        "def f(x):\n    raise NotImplementedError\n",
        "@dataclass\nclass Q:\n    __module__ = 'cand'\n    __qualname__ = 'P'\n    v: int\n\n\n"
        "def f(x):\n    return Q(x)\n",
    )
    oracle = Oracle(cases, reference, module_name="cand", limits=FAST, records=("cand.P",))
    assert verify(reference.replace("raise NotImplementedError", "return P(x)"), oracle).ok
    verdict = verify(impostor, oracle)
    assert verdict.results[0].status == "fail"
    assert "nor a type the spec declares" in (verdict.results[0].message or "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces are Linux's")
def test_compile_and_check_warn_when_the_sandbox_has_no_namespaces(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from marshalike.cli.main import cli

    spec = tmp_path / "one.mrsh"
    spec.write_text("# func one(): an integer\n\nReturn 1.\n\n* one() = 1\n", encoding="utf-8")
    monkeypatch.setenv("MARSHALIKE_SANDBOX", "no-namespaces")
    result = CliRunner().invoke(cli, ["check", str(spec)])
    assert "warning: the sandbox runs without namespaces" in result.stderr
    assert "MARSHALIKE_SANDBOX=no-namespaces" in result.stderr
    monkeypatch.delenv("MARSHALIKE_SANDBOX")
    if isolation() == "namespaces":
        assert "without namespaces" not in CliRunner().invoke(cli, ["check", str(spec)]).stderr


@pytest.mark.skipif(isolation() != "namespaces", reason="needs Linux namespaces")
def test_namespaces_work_with_a_python_installed_under_tmp(tmp_path) -> None:
    import subprocess
    import venv

    venv.EnvBuilder(with_pip=False, symlinks=True).create(tmp_path / "venv")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    probe = (
        f"import sys; sys.path.insert(0, {repo!r});"
        " from marshalike.sandbox import isolation as sandbox;"
        " print(sandbox.isolation(), sandbox.weaker_isolation())"
    )
    done = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", probe],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["namespaces", "None"], done.stderr


@pytest.mark.parametrize(
    ("exception", "body", "passes"),
    [
        ("ValueError", "raise ValueError('bad')", True),
        (
            "ValueError",
            "raise type('ValueError', (Exception,), {'__module__': 'builtins'})()",
            False,
        ),
        (
            "Exception",
            "raise type('Exception', (BaseException,), {'__module__': 'builtins'})()",
            False,
        ),
        ("json.JSONDecodeError", "import json\n    json.loads('{')", True),
        (
            "json.JSONDecodeError",
            "raise type('JSONDecodeError', (BaseException,), {'__module__': 'json.decoder'})()",
            False,
        ),
    ],
)
def test_a_raises_example_takes_built_in_exceptions_by_identity(
    exception: str, body: str, passes: bool
) -> None:
    """A class that only borrows a built-in exception's name (or a standard library one's,
    without deriving from its built-in bases) is not caught by `except` or
    `pytest.raises` for it, so it does not pass a "raises" example either."""
    cases = (Case("test_f_1", "f(2)", "raises", None, exception),)
    assert run(f"def f(x):\n    {body}\n", cases).ok is passes


def test_a_standard_library_exception_is_the_class_found_where_it_claims_to_live() -> None:
    """A `ValueError` subclass of the code's own that claims `__module__ = "json.decoder"`
    is not `json.JSONDecodeError`: `except json.JSONDecodeError` would not catch it."""
    cases = (Case("test_f_1", "f(2)", "raises", None, "json.JSONDecodeError"),)
    fake = (
        "class JSONDecodeError(ValueError):\n    pass\n\n\n"
        "def f(x):\n    JSONDecodeError.__module__ = 'json.decoder'\n"
        "    raise JSONDecodeError('x')\n"
    )
    assert not run(fake, cases).ok


@pytest.mark.parametrize(
    ("exception", "body"),
    [
        ("IOError", "raise OSError('x')"),
        ("queue.Empty", "import queue\n    raise queue.Empty()"),
        ("socket.timeout", "raise TimeoutError('x')"),
        ("os.error", "raise OSError('x')"),
    ],
)
def test_exceptions_named_by_an_alias_are_the_class_the_alias_names(
    exception: str, body: str
) -> None:
    """`IOError` is `OSError`, `queue.Empty` is `_queue.Empty`: as `except` has them."""
    cases = (Case("test_f_1", "f(2)", "raises", None, exception),)
    assert run(f"def f(x):\n    {body}\n", cases).ok


def test_a_datetime_in_a_fold_in_a_zone_object_of_its_own_is_another_value() -> None:
    """01:30 on 2024-11-03 in New York happens twice: in `ZoneInfo.no_cache`'s zone it is
    not `==` the same datetime in `ZoneInfo`'s (Python compares them as instants, and one
    in a fold equals none), so the generated test fails it, and so does the verifier."""
    expected = "datetime.datetime(2024, 11, 3, 1, 30, tzinfo=zoneinfo.ZoneInfo('America/New_York'))"
    cases = (Case("test_f_1", "f(2)", "returns", expected, None),)
    made = "datetime.datetime(2024, 11, 3, 1, 30, tzinfo=zoneinfo.ZoneInfo.{}('America/New_York'))"
    body = "import datetime, zoneinfo\n\n\ndef f(x):\n    return " + made + "\n"
    assert not run(body.format("no_cache"), cases).ok
    assert run(body.replace(".{}(", "("), cases).ok


def test_a_standard_library_exception_is_taken_before_the_code_can_replace_it() -> None:
    """The code plants its own class in `json.decoder` under the name it claims, through
    names built at run time: the runner took `json.JSONDecodeError` before the module was
    imported, so the planted class is not it."""
    cases = (Case("test_f_1", "f(2)", "raises", None, "json.JSONDecodeError"),)
    planted = (
        "import json\n\n\nclass Fake(ValueError):\n    pass\n\n\n"
        "def f(x):\n"
        "    setattr(Fake, '__mod' + 'ule__', 'json.decoder')\n"
        "    setattr(Fake, '__qual' + 'name__', 'JSONDecodeError')\n"
        "    where = json.decoder\n"
        "    setattr(where, 'JSONDecodeError', Fake)\n"
        "    raise Fake('x')\n"
    )
    assert not run(planted, cases).ok
    assert run("import json\n\n\ndef f(x):\n    json.loads('{')\n", cases).ok


def test_a_dotted_standard_library_name_that_names_no_exception_is_never_raised() -> None:
    cases = (Case("test_f_1", "f(2)", "raises", None, "json.DecodeError"),)
    assert not run("def f(x):\n    raise KeyError(x)\n", cases).ok


def test_code_right_only_on_its_first_call_in_a_process_fails_where_calls_run_alone() -> None:
    """Where an expected value calls the function under test, every call runs alone, so a
    function right on its first call in a process and wrong after passed there, and failed
    the generated tests, which make all calls in one process. The calls also run together
    now, and an answer that changes there fails its example."""
    cases = (
        Case("test_is_even_1", "is_even(3)", "returns", "not is_even(2)", None),
        Case("test_is_even_2", "is_even(4)", "returns", "True", None),
    )
    oracle = Oracle(cases, "def is_even(n):\n    raise NotImplementedError\n",
                    module_name="m", limits=FAST)  # fmt: skip
    first_only = (
        "_seen = []\n\n\ndef is_even(n):\n    _seen.append(n)\n"
        "    return n % 2 == (1 if len(_seen) > 1 else 0)\n"
    )
    assert not verify(first_only, oracle).ok
    assert verify("def is_even(n):\n    return n % 2 == 0\n", oracle).ok


@pytest.mark.parametrize(
    "made",
    [
        "datetime.datetime(2020, 1, 1, 13, 0, tzinfo=datetime.timezone(ONE_HOUR))",
        "datetime.datetime(2020, 1, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo('UTC'))",
        "datetime.datetime(2020, 1, 1, 13, 0, tzinfo=zoneinfo.ZoneInfo('Europe/Paris'))",
        "datetime.datetime(2020, 1, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(0)))",
        "datetime.datetime(2020, 1, 1, 12, 0, fold=1, tzinfo=datetime.timezone.utc)",
        "datetime.datetime(2020, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)",
    ],
)
def test_an_aware_datetime_is_compared_with_its_zone_as_the_generated_test_has_it(
    made: str,
) -> None:
    """The same instant in another zone is `==`, but not the value the spec wrote: a
    conversion that returned its input would pass. The verifier and the generated test
    file's `_same` agree on each."""
    import datetime
    import zoneinfo

    from marshalike.codegen.testfile import SAME_HELPER

    expected = "datetime.datetime(2020, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)"
    namespace: dict[str, object] = {}
    exec(SAME_HELPER, namespace)
    scope = {"datetime": datetime, "zoneinfo": zoneinfo, "ONE_HOUR": datetime.timedelta(hours=1)}
    in_tests = namespace["_same"](eval(made, scope), eval(expected, scope))  # type: ignore[operator]
    cases = (Case("test_f_1", "f(2)", "returns", expected, None),)
    head = "import datetime, zoneinfo\n\nONE_HOUR = datetime.timedelta(hours=1)\n\n\n"
    verdict = run(f"{head}def f(x):\n    return {made}\n", cases)
    assert verdict.ok is in_tests
    assert in_tests is (made == expected or "timedelta(0)" in made)


@pytest.mark.parametrize(
    ("factory", "ok"), [("list", True), ("int", False), ("None", False), ("lambda: []", False)]
)
def test_a_defaultdict_is_compared_with_its_factory_as_the_generated_test_has_it(
    factory: str, ok: bool
) -> None:
    """What a missing key reads as is part of a defaultdict: `defaultdict(int)` filled
    through `setdefault` holds the same items as the expected `defaultdict(list)`, and
    breaks its caller's `d[5].append(x)`. A factory of the code's own is no value."""
    import collections

    from marshalike.codegen.testfile import SAME_HELPER

    made = f"collections.defaultdict({factory})"
    body = f"import collections\n\n\ndef f(x):\n    d = {made}\n    d[1] = [2]\n    return d\n"
    expected = "collections.defaultdict(list, {1: [2]})"
    verdict = run(body, (Case("test_f_1", "f(2)", "returns", expected, None),))
    assert verdict.ok is ok
    namespace: dict[str, object] = {}
    exec(SAME_HELPER, namespace)
    scope = {"collections": collections}
    actual = eval(made, scope)
    actual[1] = [2]
    same = namespace["_same"](actual, eval(expected, scope))  # type: ignore[operator]
    assert same is ok


@pytest.mark.parametrize(
    ("call", "passes"),
    [("f(*f(1))", False), ("f(**f(1))", False), ("f(*f(2))", True), ("f(**f(3))", True)],
)
def test_a_raises_example_fails_where_a_starred_argument_raised(call: str, passes: bool) -> None:
    """The error of a call that is to raise must leave the call itself, as its test (which
    computes `*` and `**` arguments before `pytest.raises`) has it: one that computing an
    unpacked argument raised (`f(1)` of `f(*f(1))`) is not the call's."""
    body = (
        "def f(*args, **kwargs):\n"
        "    if args == (1,):\n        raise ValueError('one')\n"
        "    if args in ((2,), (3,)):\n        return [] if args == (2,) else {}\n"
        "    raise ValueError('nothing to unpack')\n"
    )
    cases = (Case("test_f_1", call, "raises", None, "ValueError"),)
    assert run(body, cases).ok is passes
