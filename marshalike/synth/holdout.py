"""Holding an example back: the last checkable one stays out of every prompt, so passing it
is a test the model was not shown (the `holdout` setting)."""

from __future__ import annotations

from dataclasses import replace

from marshalike.language.spec import Example, Func
from marshalike.synth.prompts import UnitContext

MIN_FOR_HOLDOUT = 3  # checkable examples a function needs before one is held back


def held_out(func: Func) -> Example | None:
    """The example kept out of the prompts: the last checkable one, when there are enough
    left to show (a function with fewer examples needs every one in the prompt)."""
    checkable = [e for e in func.examples if e.checkable]
    return checkable[-1] if len(checkable) >= MIN_FOR_HOLDOUT else None


def shown_context(ctx: UnitContext, held: Example | None) -> UnitContext:
    """The context the prompts show: the function without its held-out example."""
    if held is None:
        return ctx
    examples = tuple(e for e in ctx.func.examples if e is not held)
    return replace(ctx, func=replace(ctx.func, examples=examples))


def test_name(func: Func, example: Example | None) -> str | None:
    if example is None:
        return None
    return f"test_{func.name}_{func.examples.index(example) + 1}"
