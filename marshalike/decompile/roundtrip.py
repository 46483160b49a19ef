"""The round trip of a decompiled spec: it loads with no errors, and every example it
writes holds for the original module, checked by the verifier (in the sandbox) with the
original module as both the code under test and the module the expected values are
computed in."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from marshalike.decompile.module import module_name_of
from marshalike.language.load import load_spec
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.verify import Oracle, cases_of, verify


@dataclass(frozen=True)
class RoundTrip:
    errors: int  # diagnostics that stop the spec from compiling
    held: int  # examples that hold for the original module
    total: int  # checkable examples

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.held == self.total


def round_trip(spec: str, source: str, filename: str, limits: Limits | None = None) -> RoundTrip:
    """Load `spec` (decompiled from `source`, the module at `filename`) and verify its
    examples against `source`."""
    name = module_name_of(filename)
    with tempfile.TemporaryDirectory(prefix="marshalike-decompile-") as folder:
        path = Path(folder) / f"{name}.mrsh"
        path.write_text(spec, encoding="utf-8")
        loaded = load_spec(path)
    errors = sum(1 for d in loaded.diagnostics if d.is_error)
    if loaded.module is None:
        return RoundTrip(max(errors, 1), 0, 0)
    types = [t.name for t in loaded.module.types]
    cases = tuple(c for func in loaded.module.funcs for c in cases_of(func, types))
    if not cases:
        return RoundTrip(errors, 0, 0)
    oracle = Oracle(
        cases,
        source,
        module_name=name,
        limits=limits or Limits(),
        records=tuple(f"{name}.{t}" for t in types),
    )
    verdict = verify(source, oracle)
    return RoundTrip(errors, verdict.passed, len(cases))
