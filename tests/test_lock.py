"""The lock file: round trip, the sampling provenance it records, and old locks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from marshalike.errors import MarshalikeError
from marshalike.lock import SAMPLING_DEFAULTS, Lock, LockedUnit, read_lock, write_lock
from marshalike.loop import LoopSettings

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


def test_the_defaults_are_the_loops_defaults() -> None:
    loop = LoopSettings(kind="chat")
    assert SAMPLING_DEFAULTS == {key: getattr(loop, key) for key in SAMPLING_DEFAULTS}


def test_a_lock_with_a_broken_unit_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "square.lock.json"
    write_lock(path, LOCK)
    data = json.loads(path.read_text())
    data["units"]["square"]["sampling"] = ["not", "a", "mapping"]
    path.write_text(json.dumps(data))
    with pytest.raises(MarshalikeError) as caught:
        read_lock(path, "square.mrsh")
    assert str(caught.value) == (
        f"{path}: the lock file is unreadable ('list' object is not a mapping); "
        "delete it to recompile from scratch"
    )
