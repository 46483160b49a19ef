"""The lock file: round trip, the sampling provenance it records, and old locks."""

from __future__ import annotations

import errno
import json
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marshalike.build.lock import (
    SAMPLING_DEFAULTS,
    Lock,
    LockedUnit,
    LockError,
    read_lock,
    write_lock,
)
from marshalike.cli.main import cli
from marshalike.gate.strength import Strength
from marshalike.settings import OLDER_LOCKS

# How a malformed lock's message ends: what deleting it costs.
AFTER = "(an output edited by hand is still known by the output hash in its header)"
SAMPLING = {
    "candidates": 4,
    "attempts": 3,
    "temperature": 0.8,
    "top_p": 0.95,
    "max_tokens": 512,
    "seed": 0,
    "quick": False,
    "rank": "consensus",
    "holdout": True,
    "temperature_step": 0.25,
    "probe": True,
    "repair": False,
}
UNIT = LockedUnit(
    key="k1",
    code="def square(x):\n    return x * x\n",
    status="verified",
    deps=("double",),
    backend="openai",
    model="fake-model",
    prompt_template="t1",
    sampling=SAMPLING,
    attempts=1,
    candidates=4,
    prompt_tokens=10,
    completion_tokens=5,
    seconds=0.5,
)
LOCK = Lock(spec="square.mrsh", spec_hash="h", units={"square": UNIT}, outputs={"square.py": "x"})


def test_a_written_lock_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    assert read_lock(path, "square.mrsh") == LOCK
    sampling = json.loads(path.read_text())["units"]["square"]["sampling"]
    assert (sampling["rank"], sampling["holdout"], sampling["temperature_step"]) == (
        "consensus",
        True,
        0.25,
    )
    assert sampling["probe"] is True


def test_an_old_lock_without_the_loop_settings_reads_them_as_defaults(tmp_path: Path) -> None:
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    data = json.loads(path.read_text())
    for key in ("rank", "holdout", "temperature_step", "probe", "repair"):
        del data["units"]["square"]["sampling"][key]
    path.write_text(json.dumps(data))
    unit = read_lock(path, "square.mrsh").units["square"]
    old = {**SAMPLING, "rank": "first", "holdout": False, "temperature_step": 0.0, "probe": False,
           "repair": True}  # fmt: skip
    assert unit == replace(UNIT, sampling=old)


def test_an_old_lock_reads_as_the_loop_before_each_setting_was_recorded() -> None:
    assert SAMPLING_DEFAULTS == OLDER_LOCKS


def test_a_lock_with_a_broken_unit_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    data = json.loads(path.read_text())
    data["units"]["square"]["sampling"] = ["not", "a", "mapping"]
    path.write_text(json.dumps(data))
    with pytest.raises(LockError) as caught:
        read_lock(path, "square.mrsh")
    assert str(caught.value) == (
        f"{path}: the lock file is malformed: units.square.sampling should be an object, "
        "not an array; delete it to recompile from scratch " + AFTER
    )
    assert caught.value.exit_code == 2


# (JSON path to change, the value put there, what the message says about it)
SHAPES = [
    ((), [], "the top level should be an object, not an array"),
    (("units",), [], "units should be an object, not an array"),
    (("units", "square", "code"), 5, "units.square.code should be a string, not an integer"),
    (("units", "square", "key"), None, "units.square.key should be a string, not null"),
    (("spec_hash",), 1.5, "spec_hash should be a string, not a number"),
    (("outputs", "square.py"), {}, 'outputs."square.py" should be a string, not an object'),
    (("units", "square", "attempts"), True, "units.square.attempts should be an integer, "
     "not true or false"),
    (("units", "square", "deps", 0), 7, "units.square.deps[0] should be a string, not an integer"),
    (("units", "square", "status"), "passed", 'units.square.status should be "verified" or '
     '"unchecked"'),
    (("units", "square", "seconds"), "0.5", "units.square.seconds should be an integer or a "
     "number, not a string"),
    (("version",), 99, "version 99 is newer than this marshalike reads (1)"),
    (("units", "a\nb"), 0, 'units."a\\nb" should be an object, not an integer'),
]  # fmt: skip


def _put(data: Any, where: tuple[Any, ...], value: Any) -> Any:
    if not where:
        return value
    head, *rest = where
    data[head] = _put(data.get(head) if isinstance(data, dict) else data[head], tuple(rest), value)
    return data


@pytest.mark.parametrize(("where", "value", "said"), SHAPES)
def test_a_value_of_the_wrong_json_type_names_its_key(
    tmp_path: Path, where: tuple[Any, ...], value: Any, said: str
) -> None:
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    path.write_text(json.dumps(_put(json.loads(path.read_text()), where, value)))
    with pytest.raises(LockError) as caught:
        read_lock(path, "square.mrsh")
    assert str(caught.value) == (
        f"{path}: the lock file is malformed: {said}; delete it to recompile from scratch " + AFTER
    )


@pytest.mark.parametrize("key", ["spec", "spec_hash", "units"])
def test_a_missing_top_level_key_is_named(tmp_path: Path, key: str) -> None:
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    data = json.loads(path.read_text())
    del data[key]
    path.write_text(json.dumps(data))
    with pytest.raises(LockError, match=f"malformed: {key} is missing;"):
        read_lock(path, "square.mrsh")


# Every key a unit must have: `questions`, `strength`, `intent` and `alternatives` are
# optional (a unit without them omits them).
OPTIONAL = {"questions", "strength", "intent", "alternatives"}


@pytest.mark.parametrize("key", sorted(set(json.loads(json.dumps(asdict(UNIT)))) - OPTIONAL))
def test_a_missing_unit_key_is_named(tmp_path: Path, key: str) -> None:
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    data = json.loads(path.read_text())
    del data["units"]["square"][key]
    path.write_text(json.dumps(data))
    with pytest.raises(LockError, match=f"malformed: units.square.{key} is missing;"):
        read_lock(path, "square.mrsh")


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (b"", "Expecting value: line 1 column 1 (char 0)"),
        (b"\xff\xfe", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_a_lock_that_is_not_json_is_a_clear_error(tmp_path: Path, raw: bytes, said: str) -> None:
    path = tmp_path / "square.lock.json"
    path.write_bytes(raw)
    with pytest.raises(LockError) as caught:
        read_lock(path, "square.mrsh")
    assert str(caught.value) == (
        f"{path}: the lock file is malformed: it cannot be read as JSON ({said}); "
        "delete it to recompile from scratch " + AFTER
    )


def test_a_lock_that_cannot_be_read_is_not_called_malformed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting it is no remedy for a permission it lacks: the error says what happened."""
    path = tmp_path / "square.lock.json"
    path.write_text("{}", encoding="utf-8")

    def denied(self: Path) -> bytes:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(LockError) as caught:
        read_lock(path, "square.mrsh")
    assert str(caught.value) == f"{path}: the lock file cannot be read: Permission denied"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    children = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, child in children:
        found += _paths(child, (*prefix, key))
    return found


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_any_value_anywhere_reads_or_is_a_one_line_lock_error(
    tmp_path: Path, data: st.DataObject
) -> None:
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    lock = json.loads(path.read_text())
    if data.draw(st.booleans(), label="delete a key"):
        where = data.draw(
            st.sampled_from([p for p in _paths(lock) if p and isinstance(p[-1], str)])
        )
        parent = lock
        for key in where[:-1]:
            parent = parent[key]
        del parent[where[-1]]
    else:
        where = data.draw(st.sampled_from(_paths(lock)))
        lock = _put(lock, where, data.draw(JSON, label="value"))
    path.write_text(json.dumps(lock))
    try:
        read_lock(path, "square.mrsh")
    except LockError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: the lock file is malformed: ")
        assert "\n" not in message


SQUARE = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4
"""
NOWHERE = ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]


@pytest.mark.parametrize("command", [["compile", *NOWHERE], ["compile", "--frozen", *NOWHERE],
                                     ["check"]])  # fmt: skip
def test_commands_report_a_malformed_lock_in_one_line_with_exit_2(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "square.mrsh").write_text(SQUARE)
    (tmp_path / "square.py").write_text("")
    (tmp_path / "square.lock.json").write_text('{"spec": "square.mrsh", "units": []}')
    result = CliRunner().invoke(cli, [command[0], str(tmp_path / "square.mrsh"), *command[1:]])
    assert result.exit_code == 2, result.output
    said = (
        f"{tmp_path / 'square.lock.json'}: the lock file is malformed: units should be an "
        "object, not an array; delete it to recompile from scratch " + AFTER
    )
    if command[0] == "check":  # a finding of the spec's: every other spec is checked too
        assert f"\n  malformed: {said}\n" in result.stdout
    else:
        assert result.stderr == f"marshalike: error: {said}\n"


def test_questions_are_recorded_only_where_there_are_some(tmp_path: Path) -> None:
    from marshalike.gate.questions import Question, Reply

    asked = Question("square(0)", (Reply("0", 2, "0"), Reply("no answer in time", 1, None)))
    path = tmp_path / "square.lock.json"
    write_lock(path, replace(LOCK, units={"square": replace(UNIT, questions=(asked,))}))
    assert read_lock(path, "square.mrsh").units["square"].questions == (asked,)
    write_lock(path, LOCK)
    assert "questions" not in json.loads(path.read_text())["units"]["square"]
    data = json.loads(path.read_text())
    data["units"]["square"]["questions"] = [{"call": "square(0)"}]
    path.write_text(json.dumps(data))
    with pytest.raises(LockError, match=r"units\.square\.questions: not a question"):
        read_lock(path, "square.mrsh")


def test_the_strength_of_the_examples_round_trips_and_a_bad_one_is_named(tmp_path: Path) -> None:
    path = tmp_path / "square.lock.json"
    measured = replace(LOCK, units={"square": replace(UNIT, strength=Strength(9, 12))})
    write_lock(path, measured)
    data = json.loads(path.read_text())
    assert data["units"]["square"]["strength"] == {"killed": 9, "total": 12}
    assert read_lock(path, "square.mrsh").units["square"].strength == Strength(9, 12)
    write_lock(path, LOCK)
    assert "strength" not in json.loads(path.read_text())["units"]["square"]
    data["units"]["square"]["strength"] = {"killed": 13, "total": 12}
    path.write_text(json.dumps(data))
    with pytest.raises(LockError, match="malformed: units.square.strength: "):
        read_lock(path, "square.mrsh")


def test_failures_and_a_partial_compile_round_trip_and_bad_ones_are_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "square.lock.json"
    failures = {"cube": ("cube(2) should be 8, got 6",)}
    partial = replace(LOCK, pending_hash="h2", failures=failures, compiled=("square",))
    write_lock(path, partial)
    data = json.loads(path.read_text())
    assert data["pending"] == {
        "spec_hash": "h2",
        "questions": {},
        "failures": {"cube": ["cube(2) should be 8, got 6"]},
        "compiled": ["square"],
    }
    assert read_lock(path, "square.mrsh") == partial
    write_lock(path, LOCK)
    assert "pending" not in json.loads(path.read_text())
    for key, value, said in (
        ("failures", {"cube": "one line"}, r"pending\.failures\.cube should be an array"),
        ("failures", {"cube": [1]}, r"pending\.failures\.cube\[0\] should be a string"),
        ("compiled", ["square", None], r"pending\.compiled\[1\] should be a string"),
    ):
        broken = json.loads(json.dumps(data))
        broken["pending"][key] = value
        path.write_text(json.dumps(broken))
        with pytest.raises(LockError, match=said):
            read_lock(path, "square.mrsh")


def _deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


REPLY = {"shown": "4", "support": 1, "expected": "4"}
# (JSON path to change, the value put there, what the message says about it)
BAD_VALUES = [
    (("units", "square", "questions"), [{"call": "square(2)", "replies": [
        {**REPLY, "support": float("inf")}]}], "units.square.questions: not a question"),
    (("pending",), {"spec_hash": "h", "questions": {"square": 5}},
     "pending.questions.square should be an array, not an integer"),
    (("pending",), {"spec_hash": "h", "questions": {"square": [{"call": "square(2)",
     "replies": [{**REPLY, "support": 1e300}]}]}}, "pending.questions.square: not a question"),
    (("units", "square", "sampling", "seed"), _deep(900),
     "it nests arrays and objects more than 64 deep"),
    (("units", "square", "code"), "def square(x):\n    s = '\udcff'\n    return x * x\n",
     "it holds a lone surrogate"),
]  # fmt: skip


@pytest.mark.parametrize(("where", "value", "said"), BAD_VALUES)
def test_a_value_beyond_its_type_is_a_malformed_lock_not_a_crash(
    tmp_path: Path, where: tuple[Any, ...], value: Any, said: str
) -> None:
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    data = _put(json.loads(path.read_text()), where, value)
    path.write_text(json.dumps(data).replace("Infinity", "1e999"))
    with pytest.raises(LockError) as caught:
        read_lock(path, "square.mrsh")
    message = str(caught.value)
    assert message.startswith(f"{path}: the lock file is malformed: {said}"), message
    assert "\n" not in message


@pytest.mark.parametrize("command", [["compile", *NOWHERE], ["check"]])
@pytest.mark.parametrize("where", [0, 3])
def test_commands_report_a_lock_value_beyond_its_type_with_exit_2(
    tmp_path: Path, command: list[str], where: int
) -> None:
    (tmp_path / "square.mrsh").write_text(SQUARE)
    (tmp_path / "square.py").write_text("")
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    keys, value, _ = BAD_VALUES[where]
    path.write_text(
        json.dumps(_put(json.loads(path.read_text()), keys, value)).replace("Infinity", "1e999")
    )
    result = CliRunner().invoke(cli, [command[0], str(tmp_path / "square.mrsh"), *command[1:]])
    assert result.exit_code == 2, result.output
    if command[0] == "check":
        (line,) = [line for line in result.stdout.splitlines() if "malformed" in line]
        assert line.startswith(f"  malformed: {path}: the lock file is malformed: ")
    else:
        assert result.stderr.startswith(f"marshalike: error: {path}: the lock file is malformed: ")
        assert result.stderr.count("\n") == 1


def test_a_question_reply_from_a_lock_that_is_no_plain_value_is_read_as_no_example(
    tmp_path: Path,
) -> None:
    evil = "49 if __import__('os').path.isdir('/sandbox') else 0"
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    data = json.loads(path.read_text())
    data["units"]["square"]["questions"] = [
        {"call": "square(7)", "replies": [{"shown": "49", "support": 2, "expected": evil}]}
    ]
    path.write_text(json.dumps(data))
    (question,) = read_lock(path, "square.mrsh").units["square"].questions
    assert [r.expected for r in question.replies] == [None]


def test_a_folder_where_the_lock_goes_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "square.mrsh").write_text(SQUARE)
    (tmp_path / "square.lock.json").mkdir()
    result = CliRunner().invoke(cli, ["compile", str(tmp_path / "square.mrsh"), *NOWHERE])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"marshalike: error: {tmp_path / 'square.lock.json'} is a folder, where the spec's "
        "lock file goes: move it away\n"
    )
