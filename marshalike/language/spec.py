"""The AST of a .mrsh spec: frozen dataclasses, each with a 1-based source span.

The parser builds these; check, emit and the compiler read them. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from marshalike.language.diagnostics import Span

Outcome = Literal["returns", "raises", "informal"]


@dataclass(frozen=True)
class Param:
    """One parameter. Marsha lists bare types; `name: type = default` is our extension."""

    name: str | None
    type: str
    default: str | None
    span: Span


@dataclass(frozen=True)
class Example:
    """One `* CALL = EXPECTED` bullet.

    `outcome` is "returns" (expected is a Python expression), "raises" (exception names
    the class; "Exception" for Marsha's `throws an error`) or "informal" (kept for the
    model and reported as a warning, never turned into a test).
    """

    text: str
    outcome: Outcome
    call: str | None
    expected: str | None
    exception: str | None
    func: str | None
    arg_count: int | None
    keywords: tuple[str, ...]
    span: Span
    call_span: Span | None

    @property
    def checkable(self) -> bool:
        return self.outcome != "informal"


@dataclass(frozen=True)
class Func:
    name: str
    params: tuple[Param, ...]
    returns: str | None
    description: str
    examples: tuple[Example, ...]
    text: str
    span: Span
    name_span: Span


@dataclass(frozen=True)
class TypeDef:
    """`# type NAME` with inline CSV, or `# type NAME file.csv` (source is set).

    For a file-backed type the parser leaves columns and rows empty; `load` fills them.
    """

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    source: str | None
    text: str
    span: Span
    name_span: Span
    row_spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class Use:
    """`# use other.mrsh`: functions of another spec become callable here."""

    path: str
    span: Span


@dataclass(frozen=True)
class Module:
    path: str
    uses: tuple[Use, ...]
    types: tuple[TypeDef, ...]
    funcs: tuple[Func, ...]
    span: Span

    @property
    def name(self) -> str:
        stem = self.path.replace("\\", "/").rsplit("/", 1)[-1]
        return stem.removesuffix(".mrsh")

    def func(self, name: str) -> Func | None:
        return next((f for f in self.funcs if f.name == name), None)

    def type(self, name: str) -> TypeDef | None:
        return next((t for t in self.types if t.name == name), None)
