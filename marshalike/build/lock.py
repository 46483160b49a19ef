"""The lock: what was compiled from which spec text, by which model, and at what cost.

One lock per spec (`NAME.lock.json` beside `NAME.py`), not one per project: specs compile
independently, CI shards write disjoint files, and editing one spec never produces a merge
conflict in another's lock. Sorted-key JSON, never pickles. Keys exclude credentials and
base URLs, so the same spec compiled through another server of the same model is a hit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from marshalike.build.output import write_atomic
from marshalike.errors import MarshalikeError
from marshalike.gate.questions import Question
from marshalike.gate.strength import Strength
from marshalike.settings import OLDER_LOCKS

LOCK_VERSION = 1
# How a unit's code was chosen, beyond sampling: some settings are recorded only since they
# were added. A lock without one reads as the loop's behaviour before it (the schema's
# `older_locks`).
SAMPLING_DEFAULTS: Mapping[str, Any] = OLDER_LOCKS


@dataclass(frozen=True)
class LockedUnit:
    key: str
    code: str
    status: str  # "verified" | "unchecked" (no checkable example, --allow-unchecked)
    deps: tuple[str, ...]
    backend: str
    model: str
    prompt_template: str
    sampling: Mapping[str, Any]
    attempts: int
    candidates: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    # Inputs the examples leave open, on which the passing candidates disagreed.
    questions: tuple[Question, ...] = ()
    # How many small variants of the code its examples rule out (`gate.strength`).
    strength: Strength | None = None
    intent: str = ""  # the plan's intent of the unit: what its code does, less the examples
    # Other code the model wrote for it that passed the examples, most sampled first: tried
    # again (in the sandbox, like any candidate) when an answer adds an example.
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lock:
    spec: str
    spec_hash: str = ""
    units: Mapping[str, LockedUnit] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)  # file name -> sha256
    # The questions of functions whose last compile failed (an unchecked one, say), for the
    # spec text of `pending_hash`: `marshalike clarify` asks them; a compile that succeeds
    # drops them.
    pending: Mapping[str, tuple[Question, ...]] = field(default_factory=dict)
    pending_hash: str = ""
    # Why those functions failed, for the same text: the editor shows it on hover.
    failures: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The functions compiled for that text by a compile of only some of them, whose module
    # is written once the rest compile too.
    compiled: tuple[str, ...] = ()
    # The ruff rules each function's code breaks, suppressed around it in the module
    # (`codegen.lint`): recorded so that the module is rebuilt from the lock alone.
    lint: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def earlier(self, name: str, intent: str) -> tuple[str, ...]:
        """The code this lock holds for unit `name`, chosen and alternative, where it was
        written for the same intent; none otherwise."""
        unit = self.units.get(name)
        if unit is None or not intent or unit.intent != intent:
            return ()
        return (unit.code, *unit.alternatives) if unit.code else unit.alternatives

    def hit(self, name: str, key: str, *, need_verified: bool) -> LockedUnit | None:
        unit = self.units.get(name)
        if unit is None or unit.key != key:
            return None
        if need_verified and unit.status != "verified":
            return None
        return unit


def lock_path(output_dir: Path, module_name: str) -> Path:
    return output_dir / f"{module_name}.lock.json"


class LockError(MarshalikeError):
    """A lock file that cannot be read or does not have the lock's shape."""

    exit_code = 2


def read_lock(path: Path, spec: str) -> Lock:
    if not path.exists():
        return Lock(spec=spec)
    if path.is_dir():  # no malformed lock: nothing to delete to compile from scratch
        raise LockError(f"{path} is a folder, where the spec's lock file goes: move it away")
    try:
        raw = path.read_bytes()
    except OSError as exc:  # no malformed lock either: its contents were never seen
        raise LockError(f"{path}: the lock file cannot be read: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise _malformed(path, f"it cannot be read as JSON ({_reason(exc)})") from None
    if _deeper(data, _DEEPEST):
        raise _malformed(path, f"it nests arrays and objects more than {_DEEPEST} deep")
    try:  # a `\udcff` escape reads as a lone surrogate, which no file or program takes
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _malformed(path, "it holds a lone surrogate (a \\udXXX escape)") from None
    try:
        return _lock(data)
    except _Shape as exc:
        raise _malformed(path, str(exc)) from None
    except (ValueError, OverflowError, RecursionError) as exc:  # a value beyond its type
        raise _malformed(path, _reason(exc)) from None


# How deep a lock's arrays and objects nest (a lock written here nests under 10): what is
# read is written back, and a deeper value would exceed the JSON writer's recursion.
_DEEPEST = 64


def _deeper(data: object, limit: int) -> bool:
    """Whether `data`'s arrays and objects nest more than `limit` deep (without recursion)."""
    level: list[object] = [data]
    for _ in range(limit + 1):
        level = [
            child
            for value in level
            if isinstance(value, dict | list)
            for child in (value.values() if isinstance(value, dict) else value)
        ]
        if not level:
            return False
    return True


class _Shape(Exception):
    """A value of the wrong JSON type, with the dotted key it sits at."""


# A unit's keys and the JSON types each must have; `sampling` is checked on its own.
_UNIT_FIELDS: Mapping[str, type | tuple[type, ...]] = {
    "key": str,
    "code": str,
    "status": str,
    "backend": str,
    "model": str,
    "prompt_template": str,
    "attempts": int,
    "candidates": int,
    "prompt_tokens": int,
    "completion_tokens": int,
    "seconds": (int, float),
}
# A ruff rule's code: it is written into the module, inside a comment.
_RULE = re.compile(r"[A-Z]{1,4}[0-9]{1,4}")
_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", int: "an integer",
               float: "a number", bool: "true or false", type(None): "null"}  # fmt: skip


def _lock(given: object) -> Lock:
    data: dict[str, Any] = _get(given, None, dict, "")
    version = data.get("version", LOCK_VERSION)
    _check("version", version, int)
    if version > LOCK_VERSION:
        raise _Shape(f"version {version} is newer than this marshalike reads ({LOCK_VERSION})")
    units = _get(data, "units", dict)
    outputs = _get(data, "outputs", dict, default={})
    for name, value in outputs.items():
        _check(f"outputs.{_key(name)}", value, str)
    pending = _get(data, "pending", dict, default={})
    asked = _get(pending, "questions", dict, "pending", default={}) if pending else {}
    questions: dict[str, tuple[Question, ...]] = {}
    for name, found in asked.items():
        where = f"pending.questions.{_key(name)}"
        _check(where, found, list)
        try:
            questions[name] = tuple(Question.from_json(_get(q, None, dict, where)) for q in found)
        except ValueError as exc:
            raise _Shape(f"{where}: {exc}") from None
    said = _get(pending, "failures", dict, "pending", default={}) if pending else {}
    failures: dict[str, tuple[str, ...]] = {}
    for name, lines in said.items():
        where = f"pending.failures.{_key(name)}"
        _check(where, lines, list)
        for index, line in enumerate(lines):
            _check(f"{where}[{index}]", line, str)
        failures[name] = tuple(lines)
    compiled = _get(pending, "compiled", list, "pending", default=[]) if pending else []
    for index, name in enumerate(compiled):
        _check(f"pending.compiled[{index}]", name, str)
    lint: dict[str, tuple[str, ...]] = {}
    for name, codes in _get(data, "lint", dict, default={}).items():
        _check(f"lint.{_key(name)}", codes, list)
        for index, code in enumerate(codes):
            _check(f"lint.{_key(name)}[{index}]", code, str)
            if not _RULE.fullmatch(code):
                raise _Shape(f"lint.{_key(name)}[{index}] is not a ruff rule code")
        lint[name] = tuple(codes)
    return Lock(
        spec=_get(data, "spec", str),
        spec_hash=_get(data, "spec_hash", str),
        units={name: _unit(unit, f"units.{_key(name)}") for name, unit in units.items()},
        outputs=outputs,
        pending=questions,
        pending_hash=_get(pending, "spec_hash", str, "pending") if pending else "",
        failures=failures,
        compiled=tuple(compiled),
        lint=lint,
    )


def _unit(data: object, where: str) -> LockedUnit:
    data = _get(data, None, dict, where)
    fields = {key: _get(data, key, kind, where) for key, kind in _UNIT_FIELDS.items()}
    if fields["status"] == "unverified":  # what locks called "unchecked" before
        fields["status"] = "unchecked"
    if fields["status"] not in ("verified", "unchecked"):
        raise _Shape(f'{where}.status should be "verified" or "unchecked"')
    deps = _get(data, "deps", list, where)
    for index, dep in enumerate(deps):
        _check(f"{where}.deps[{index}]", dep, str)
    sampling = _get(data, "sampling", dict, where)
    asked = _get(data, "questions", list, where, default=[])
    try:
        questions = tuple(Question.from_json(_get(q, None, dict, where)) for q in asked)
    except ValueError as exc:
        raise _Shape(f"{where}.questions: {exc}") from None
    try:
        present = isinstance(data, dict) and "strength" in data
        measured = _get(data, "strength", dict, where) if present else None
        strength = None if measured is None else Strength.from_json(measured)
    except ValueError as exc:
        raise _Shape(f"{where}.strength: {exc}") from None
    intent = _get(data, "intent", str, where, default="")
    alternatives = _get(data, "alternatives", list, where, default=[])
    for index, code in enumerate(alternatives):
        _check(f"{where}.alternatives[{index}]", code, str)
    return LockedUnit(
        **fields,
        deps=tuple(deps),
        sampling={**SAMPLING_DEFAULTS, **sampling},
        questions=questions,
        strength=strength,
        intent=intent,
        alternatives=tuple(alternatives),
    )


def _get(
    data: Any,
    key: str | None,
    kind: type | tuple[type, ...],
    where: str = "",
    default: Any = None,
) -> Any:
    """`data[key]` (or `data` itself when `key` is None), which must be of JSON type `kind`."""
    dotted = ".".join(part for part in (where, key) if part) or "the top level"
    if key is None:
        value = data
    elif key in data:
        value = data[key]
    elif default is not None:
        return default
    else:
        raise _Shape(f"{dotted} is missing")
    _check(dotted, value, kind)
    return value


def _check(dotted: str, value: object, kind: type | tuple[type, ...]) -> None:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON's true and false are Python bools, which are ints; a count is never one.
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        wanted = " or ".join(_JSON_NAMES[k] for k in kinds)
        raise _Shape(f"{dotted} should be {wanted}, not {_JSON_NAMES.get(type(value), 'that')}")


def _key(name: str) -> str:
    """A key as a dotted path shows it: quoted when it is not a plain name, so a message
    stays on one line whatever the file holds."""
    return name if name.isidentifier() else json.dumps(name)


def _malformed(path: Path, why: str) -> LockError:
    return LockError(
        f"{path}: the lock file is malformed: {why}; delete it to recompile from scratch "
        "(an output edited by hand is still known by the output hash in its header)"
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def write_lock(path: Path, lock: Lock) -> None:
    write_atomic(path, lock_text(lock))


def lock_text(lock: Lock) -> str:
    data = {
        "version": LOCK_VERSION,
        "spec": lock.spec,
        "spec_hash": lock.spec_hash,
        "outputs": dict(sorted(lock.outputs.items())),
        "units": {name: _unit_dict(u) for name, u in sorted(lock.units.items())},
    }
    if lock.lint:
        data["lint"] = {name: list(codes) for name, codes in sorted(lock.lint.items())}
    if lock.pending or lock.failures or lock.compiled:
        pending: dict[str, Any] = {
            "spec_hash": lock.pending_hash,
            "questions": {
                name: [q.to_json() for q in asked] for name, asked in sorted(lock.pending.items())
            },
        }
        if lock.failures:
            pending["failures"] = {name: list(lines) for name, lines in lock.failures.items()}
        if lock.compiled:
            pending["compiled"] = sorted(lock.compiled)
        data["pending"] = pending
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _unit_dict(unit: LockedUnit) -> dict[str, Any]:
    data = asdict(unit)
    data["deps"] = list(unit.deps)
    data["sampling"] = dict(unit.sampling)
    data["questions"] = [q.to_json() for q in unit.questions]
    if not unit.questions:
        del data["questions"]  # a unit without questions reads as before they were recorded
    data["alternatives"] = list(unit.alternatives)
    for key in ("intent", "alternatives"):
        if not data[key]:
            del data[key]  # as a lock written before they were recorded reads
    if unit.strength is None:
        del data["strength"]
    else:
        data["strength"] = unit.strength.to_json()
    return data
