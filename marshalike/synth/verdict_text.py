"""What one example's test result means, said once: the repair prompt (a model reads it)
and `marshalike check` (a person reads it) use the same words, so a failure reads the same
in the compile loop and in CI. Values a candidate returned or raised are shown with any
secret of the compiler's environment redacted (`redact`)."""

from __future__ import annotations

from marshalike.language.spec import Example, Func
from marshalike.sandbox.values import CALL_CHANGED
from marshalike.sandbox.verify import ExampleResult
from marshalike.synth.redact import redact


def describe(result: ExampleResult, func: Func | None, timeout_s: float) -> str | None:
    """One line to act on, naming the example's call; None for a passing example.

    `func` is the function whose example the test checks (None when it is not known: the
    line then names the test instead of the call); `timeout_s` is the per-example limit.
    """
    line = _line(result, func, timeout_s)
    return redact(line) if line is not None else None


def _line(result: ExampleResult, func: Func | None, timeout_s: float) -> str | None:
    if result.status == "pass":
        return None
    example = _example(func, result.index)
    call = example.call if example and example.call else result.test
    if result.status == "fail" and (result.message or "").startswith(CALL_CHANGED):
        return f"{call} should return {result.expected}, but {result.message}"
    if result.status == "fail":
        said = f"{call} should return {result.expected}, but it returned {result.actual}"
        # The verifier's reason, where the values alone do not show it (a type).
        typed = result.message and not result.message.startswith(("a different", "different"))
        return f"{said}: {result.message}" if typed else said
    if result.status == "timeout":
        return f"{call} did not finish within {timeout_s:g} s"
    if result.status == "not_run":
        return f"{call} was not run: {result.message}"
    if result.error_type == "Failed" and example and example.outcome == "raises":
        # the verifier reports a missing exception as `Failed: DID NOT RAISE`
        returned = f" (it returned {result.actual})" if result.actual else ""
        return f"{call} should raise {example.exception}, but it did not{returned}"
    return f"{call} raised {_error(result)}"


def _example(func: Func | None, index: int | None) -> Example | None:
    if func is None or index is None or not 1 <= index <= len(func.examples):
        return None
    return func.examples[index - 1]


def _error(result: ExampleResult) -> str:
    if result.error_type and result.message:
        return f"{result.error_type}: {result.message}"
    return result.error_type or result.message or "an error"
