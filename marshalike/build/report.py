"""Render compile reports: a table per spec for people, JSON for tools.

Both pass through `redact`: a failure shows what a candidate returned, and that must never
be a secret of the compiler's environment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from marshalike.build.results import SpecReport
from marshalike.language.diagnostics import printable
from marshalike.synth.redact import redact, redact_question

_MARK = {"verified": "ok", "unchecked": "UNCHECKED", "failed": "FAILED"}


def text(reports: Sequence[SpecReport]) -> str:
    lines: list[str] = []
    totals = {"units": 0, "failed": 0, "prompt": 0, "completion": 0, "seconds": 0.0}
    for report in reports:
        lines.append(_spec_line(report))
        for unit in report.units:
            lines.append(_unit_line(unit))
            lines.extend(f"      {failure}" for failure in unit.failures)
            if unit.strength is not None:
                lines.append(f"      {unit.strength.shown()}")
            lines.extend(f"      question: {q.shown()}" for q in unit.questions)
            totals["units"] += 1
            totals["failed"] += unit.status == "failed"
            totals["prompt"] += unit.prompt_tokens
            totals["completion"] += unit.completion_tokens
            totals["seconds"] += unit.seconds
    asked = sum(len(unit.questions) for report in reports for unit in report.units)
    if asked:
        lines.append(
            f"{count(asked, 'question')} the examples leave open: answer with "
            "`marshalike clarify`, or add examples that settle them"
        )
    lines.append(
        f"total: {count(int(totals['units']), 'function')}, {totals['failed']} failed, "
        f"{totals['prompt']} prompt + {totals['completion']} completion tokens, "
        f"{totals['seconds']:.1f} s"
    )
    # A path, or a failure quoting what a candidate returned, may hold control characters.
    return redact("".join(printable(line) + "\n" for line in "\n".join(lines).split("\n")))


def _spec_line(report: SpecReport) -> str:
    """One line, whatever the paths in it hold (a line break)."""
    return printable(_spec_said(report))


def _spec_said(report: SpecReport) -> str:
    if report.problem:
        return f"{report.path}: not compiled: {report.problem}"
    if report.stale:
        return f"{report.path}: STALE (--frozen): {', '.join(report.stale)} would need the model"
    if any(d.is_error for d in report.diagnostics):
        return f"{report.path}: not compiled (errors in the spec)"
    if report.failed_file:
        return f"{report.path}: FAILED, best attempt in {report.failed_file}"
    if report.deferred:
        left = ", ".join(report.deferred)
        return f"{report.path}: ok, {left} not compiled yet (outputs unchanged until they are)"
    wrote = ", ".join(report.written) if report.written else "outputs unchanged"
    return f"{report.path}: ok ({wrote})"


def _unit_line(unit: Any) -> str:
    status = _MARK.get(unit.status, unit.status)
    note = f"  [{unit.note}]" if unit.note else ""
    return (
        f"  {unit.name:<24} {status:<10} attempts {unit.attempts}  candidates {unit.candidates}"
        f"  tokens {unit.prompt_tokens}+{unit.completion_tokens}  {unit.seconds:.1f} s{note}"
    )


def as_json(reports: Sequence[SpecReport]) -> str:
    return json.dumps([_report_dict(r) for r in reports], indent=2, sort_keys=True) + "\n"


def _report_dict(report: SpecReport) -> dict[str, Any]:
    return {
        "path": report.path,
        "ok": report.ok,
        "written": list(report.written),
        "failed_file": report.failed_file,
        "stale": list(report.stale),
        "deferred": list(report.deferred),
        "problem": redact(report.problem) if report.problem else report.problem,
        "errors": sum(d.is_error for d in report.diagnostics),
        "warnings": sum(not d.is_error for d in report.diagnostics),
        "units": [_unit_dict(u) for u in report.units],
    }


def _unit_dict(unit: Any) -> dict[str, Any]:
    keys = ("name", "status", "attempts", "candidates", "distinct", "prompt_tokens",
            "completion_tokens", "note")  # fmt: skip
    data = {key: getattr(unit, key) for key in keys}
    data["note"] = redact(unit.note) if unit.note else unit.note
    data["seconds"] = round(unit.seconds, 3)
    data["failures"] = [redact(failure) for failure in unit.failures]
    data["questions"] = [redact_question(q) for q in unit.questions]
    data["strength"] = unit.strength.to_json() if unit.strength is not None else None
    return data


def count(number: int, noun: str) -> str:
    """ "1 function", "2 functions"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def exit_status(reports: Sequence[SpecReport]) -> int:
    """2 when a spec has errors, 1 when a function failed, else 0 (README, "Exit status")."""
    if any(any(d.is_error for d in r.diagnostics) for r in reports):
        return 2
    return 0 if all(r.ok for r in reports) else 1
