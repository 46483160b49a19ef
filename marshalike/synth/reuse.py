"""Candidates of an earlier compile, tried again before the model is asked.

When an answer to a question (`marshalike clarify`) adds an example, the function's intent
is unchanged and the code the model already wrote for it often holds the answer: the
candidates disagreed, and one of them said what the person chose. The lock keeps the
chosen code and the other codes that passed (`LockedUnit.alternatives`); here each is
judged again exactly as a new candidate is (extracted, run against every example in the
sandbox, judged by the probe gate), so code from a lock file is trusted no more than code
from the model. Each keeps the spec's current docstring, which lists the new example.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import replace

from marshalike.backends.base import Completion
from marshalike.codegen.docstrings import docstring_body, docstring_literal
from marshalike.language.diagnostics import source_lines
from marshalike.language.naming import identifier, parse_or_none
from marshalike.language.spec import Func
from marshalike.synth.judge import Candidate, Harness, Tally, judge, passes
from marshalike.synth.loop_settings import LoopSettings
from marshalike.synth.prompts import UnitContext

KEPT = 8  # alternatives a lock keeps per unit, most sampled first


def passing_again(
    ctx: UnitContext,
    shown: UnitContext,
    prior: Sequence[str],
    settings: LoopSettings,
    tally: Tally,
    harness: Harness,
) -> list[Candidate]:
    """The codes of `prior` that pass the unit's examples and the probe gate now, in the
    order given (the code chosen last time first). They are judged as chat answers, whole
    functions, whatever the prompt kind, and are not counted as samples of this compile."""
    completions = [
        Completion(f"```python\n{refreshed(code, ctx.func)}```", 0, 0, "stop") for code in prior
    ]
    batch = judge(ctx, shown, completions, replace(settings, kind="chat"), tally, harness)
    tally.candidates -= len(completions)  # no model call made them in this compile
    return [cand for cand in batch if passes(cand)]


def refreshed(code: str, func: Func) -> str:
    """`code` with the function's docstring replaced by the one the spec gives now, where it
    has one; otherwise as it is."""
    tree = parse_or_none(code, mode="exec")
    if not isinstance(tree, ast.Module):
        return code
    name = identifier(func.name)
    node = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if node is None or not node.body or not _is_docstring(node.body[0]):
        return code
    first, doc = node.body[0], docstring_body(func)
    lines = source_lines(code, keepends=True)  # as `ast` numbers them: \f is no line end
    indent = " " * first.col_offset
    new = docstring_literal(doc, indent) + "\n" if doc else ""
    end = first.end_lineno or first.lineno
    return "".join([*lines[: first.lineno - 1], new, *lines[end:]])


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
