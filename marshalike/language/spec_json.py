"""The AST as plain JSON values, for `marshalike parse --json` and other tools.

Every dataclass field appears under its own name; tuples become lists and spans become
`{"line", "column", "end_line", "end_column"}` (1-based, end column exclusive). Derived
values a consumer would otherwise recompute are added: a module's `name`, an example's
`checkable`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from marshalike.language.diagnostics import Diagnostic, Span
from marshalike.language.spec import Example, Module

JSONValue = Any  # a str, int, float, bool, None, list or dict of those


def module_to_dict(module: Module) -> dict[str, JSONValue]:
    data = _to_json(module)
    data["name"] = module.name
    return data


def diagnostic_to_dict(diagnostic: Diagnostic) -> dict[str, JSONValue]:
    return _to_json(diagnostic)


def span_to_dict(span: Span) -> dict[str, int]:
    return {
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def _to_json(value: object) -> JSONValue:
    if isinstance(value, Span):
        return span_to_dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        data = {field.name: _to_json(getattr(value, field.name)) for field in fields}
        if isinstance(value, Example):
            data["checkable"] = value.checkable
        return data
    if isinstance(value, tuple | list):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _to_json(item) for key, item in value.items()}
    return value
