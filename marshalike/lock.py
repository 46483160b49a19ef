"""The lock: what was compiled from which spec text, by which model, and at what cost.

One lock per spec (`NAME.lock.json` beside `NAME.py`), not one per project: specs compile
independently, CI shards write disjoint files, and editing one spec never produces a merge
conflict in another's lock. Sorted-key JSON, never pickles. Keys exclude credentials and
base URLs, so the same spec compiled through another server of the same model is a hit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from marshalike.errors import MarshalikeError
from marshalike.output import write_atomic

LOCK_VERSION = 1
# How a unit's code was chosen, beyond sampling: recorded since these loop settings were
# added. A lock without them reads as the defaults, the loop's behaviour before them. Kept
# equal to LoopSettings' defaults by a test, not imported, so reading a lock stays cheap.
SAMPLING_DEFAULTS: Mapping[str, Any] = {
    "rank": "first",
    "holdout": False,
    "temperature_step": 0.0,
    "probe": False,
    "repair": True,
}


@dataclass(frozen=True)
class LockedUnit:
    key: str
    code: str
    status: str  # "verified" | "unverified" (--quick)
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


@dataclass(frozen=True)
class Lock:
    spec: str
    spec_hash: str = ""
    units: Mapping[str, LockedUnit] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)  # file name -> sha256

    def hit(self, name: str, key: str, *, need_verified: bool) -> LockedUnit | None:
        unit = self.units.get(name)
        if unit is None or unit.key != key:
            return None
        if need_verified and unit.status != "verified":
            return None
        return unit


def lock_path(output_dir: Path, module_name: str) -> Path:
    return output_dir / f"{module_name}.lock.json"


def read_lock(path: Path, spec: str) -> Lock:
    if not path.exists():
        return Lock(spec=spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        units = {name: _unit(unit) for name, unit in data["units"].items()}
        return Lock(
            spec=data["spec"],
            spec_hash=data["spec_hash"],
            units=units,
            outputs=data.get("outputs", {}),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MarshalikeError(
            f"{path}: the lock file is unreadable ({exc}); delete it to recompile from scratch"
        ) from None


def _unit(data: dict[str, Any]) -> LockedUnit:
    sampling = {**SAMPLING_DEFAULTS, **data["sampling"]}
    return LockedUnit(**{**data, "deps": tuple(data["deps"]), "sampling": sampling})


def write_lock(path: Path, lock: Lock) -> None:
    data = {
        "version": LOCK_VERSION,
        "spec": lock.spec,
        "spec_hash": lock.spec_hash,
        "outputs": dict(sorted(lock.outputs.items())),
        "units": {name: _unit_dict(u) for name, u in sorted(lock.units.items())},
    }
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _unit_dict(unit: LockedUnit) -> dict[str, Any]:
    data = asdict(unit)
    data["deps"] = list(unit.deps)
    data["sampling"] = dict(unit.sampling)
    return data
