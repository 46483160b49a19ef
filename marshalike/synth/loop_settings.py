"""How the loop runs for one unit: the compiler's settings as the loop uses them, with the
schema's defaults (marshalike/settings/schema.py), and what the lock records of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshalike.backends.base import PromptKind
from marshalike.sandbox.isolation import Limits
from marshalike.settings import LOCKED, TOP_P, Rank, default, repairs, token_budget

MAX_TEMPERATURE = 2.0


@dataclass(frozen=True)
class LoopSettings:
    """How the loop runs; the defaults are the settings' (marshalike/settings/schema.py)."""

    kind: PromptKind
    candidates: int = default("candidates")
    attempts: int = default("attempts")
    temperature: float = default("temperature")
    top_p: float = TOP_P
    max_tokens: int | None = default("max_tokens")  # None: by prompt kind (`token_budget`)
    seed: int = default("seed")
    quick: bool = False
    jobs: int = default("jobs")
    limits: Limits = field(default_factory=Limits)
    # Modules the unit's code may import (the generated modules of `# use`d specs), the
    # types they declare ("other.Point"), the functions imported from each, and the types
    # examples build, by name to module (`build.uses.Used`).
    support_files: Mapping[str, str] = field(default_factory=dict)
    support_records: tuple[str, ...] = ()
    support_imports: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    support_types: Mapping[str, str] = field(default_factory=dict)
    rank: Rank = default("rank")
    holdout: bool = default("holdout")
    temperature_step: float = default("temperature_step")
    probe: bool = default("probe")
    questions: int = default("questions")
    allow_unchecked: bool = default("allow_unchecked")
    repair: bool | None = default("repair")  # None: by prompt kind (`repairs`)

    @property
    def token_budget(self) -> int:
        return token_budget(self.kind, self.max_tokens)

    @property
    def repairs(self) -> bool:
        return repairs(self.kind, self.repair)

    def recorded(self) -> dict[str, Any]:
        """How a unit's code was chosen, as its lock records it: the settings the lock
        records (settings.LOCKED) as this loop used them, its top_p and whether it was quick."""
        used = {name: getattr(self, name) for name in LOCKED}
        resolved = {"max_tokens": self.token_budget, "repair": self.repairs}
        return {**used, **resolved, "top_p": self.top_p, "quick": self.quick}

    @property
    def probes(self) -> bool:
        """The probe gate only judges candidates that passed verification."""
        return self.probe and not self.quick

    @property
    def holds_out(self) -> bool:
        """Holding an example back only means something when candidates are verified."""
        return self.holdout and not self.quick

    @property
    def prompt_variant(self) -> str:
        """What the settings change in the prompts, for the unit's cache key."""
        return ":holdout" if self.holds_out else ""

    def temperature_at(self, attempt: int) -> float:
        raised = self.temperature + self.temperature_step * (attempt - 1)
        return min(max(raised, 0.0), MAX_TEMPERATURE)
