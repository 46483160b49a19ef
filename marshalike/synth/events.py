"""What the loop reports while it works on a unit, for a live display: each event says what
the unit is doing now and what it has so far. Events are observations only: nothing the
loop decides depends on whether anyone listens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

# "queued" and "done" come from the compiler, as a unit waits its turn and ends.
State = Literal["queued", "reusing", "sampling", "verifying", "asking", "done"]


@dataclass(frozen=True)
class UnitEvent:
    unit: str  # the function's name
    state: State
    attempt: int = 0  # the attempt under way (sampling, verifying), from 1
    attempts: int = 0  # the attempt budget
    candidates: int = 0  # completions judged so far
    passing: int = 0  # distinct codes so far that pass every example
    completion_tokens: int = 0  # generated so far
    status: str = ""  # done: verified, failed, unchecked, or unchanged (from the lock)

    def shown(self) -> str:
        """`sampling attempt 2 of 4` / `verifying attempt 2 of 4: 3 of 8 candidates pass`."""
        where = f" attempt {self.attempt} of {self.attempts}" if self.attempt else ""
        if self.state == "verifying":
            return f"verifying{where}: {self.passing} of {self.candidates} candidates pass"
        if self.state == "asking":
            return "looking for questions"
        if self.state == "reusing":
            return "trying the code of the last compile"
        if self.state in ("queued", "done"):
            return self.status or self.state
        return f"sampling{where}"


Observe = Callable[[UnitEvent], None]


def ignore(event: UnitEvent) -> None:
    """The observer of a loop nobody watches."""


# What the loop reports of a unit of a module, the module's name first: for a display of
# several specs at once.
SpecObserve = Callable[[str, UnitEvent], None]


def for_module(observe: SpecObserve | None, module_name: str) -> Observe:
    """The observer of one module's units, reporting to `observe` under `module_name`."""
    if observe is None:
        return ignore
    return lambda event: observe(module_name, event)
