"""Code actions: the quick fix of every diagnostic whose hint names a concrete
replacement (a did-you-mean name, a misspelt section keyword, a missing `:`), an "Add
example" for each answer to each open question the last compile left about a function
(`marshalike clarify` in the editor: the answer becomes an example bullet, written by
`language.edit.add_example`), "Compile this function" in a function's section and
"Compile this spec"."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lsprotocol import types

from marshalike.build.results import SpecReport
from marshalike.gate.questions import asks_about, example_answer
from marshalike.language.diagnostics import Diagnostic, Span
from marshalike.language.edit import add_example
from marshalike.language.spec import Func
from marshalike.lsp.project import outputs
from marshalike.lsp.specs import Analysis, to_lsp
from marshalike.lsp.text import TextMap

COMPILE = "marshalike.compile"  # argument: the spec's URI
COMPILE_FUNCTION = "marshalike.compileFunction"  # arguments: the spec's URI, a function
_DID_YOU_MEAN = re.compile(r"did you mean '([^']+)'")
_WRITE = re.compile(r"write '\): ")
_CALL, _EXPECTED = "\x00call\x00", "\x00expected\x00"


def code_actions(
    analysis: Analysis,
    where: types.Range,
    report: SpecReport | None,
    flags: Mapping[str, Any],
    only: list[str] | None = None,
) -> list[types.CodeAction]:
    text_map = analysis.map
    start, end = text_map.at(where.start), text_map.at(where.end)
    found: list[types.CodeAction] = []
    for diagnostic in analysis.diagnostics:
        span = diagnostic.span
        low, high = (
            text_map.offset(span.line, span.column),
            text_map.offset(span.end_line, span.end_column),
        )
        if low <= end and start <= high:
            fix = quick_fix(analysis, diagnostic)
            if fix is not None:
                found.append(fix)
    if analysis.module is not None:
        for func in analysis.module.funcs:
            section = func.span
            low = text_map.offset(section.line, 1)
            high = text_map.offset(section.end_line, section.end_column)
            if low <= end and start <= high:
                found.extend(_answers(analysis, func, report, flags))
                found.append(_command(f"Compile this function ({func.name})", COMPILE_FUNCTION,
                                      analysis.uri, func.name))  # fmt: skip
    found.append(_command("Compile this spec", COMPILE, analysis.uri))
    if only:
        found = [a for a in found if any(str(a.kind).startswith(str(k)) for k in only)]
    return found


def _command(title: str, command: str, *arguments: str) -> types.CodeAction:
    run = types.Command(title, command, arguments=list(arguments))
    return types.CodeAction(title, kind=types.CodeActionKind.Source, command=run)


def quick_fix(analysis: Analysis, diagnostic: Diagnostic) -> types.CodeAction | None:
    """The fix a diagnostic's hint spells out, or None where it names no replacement."""
    text_map, hint, span = analysis.map, diagnostic.hint or "", diagnostic.span
    edit: tuple[Span, str] | None = None
    if _WRITE.match(hint):  # M008: `# func f(x) int` -> `# func f(x): int`
        line = text_map.line_text(span.line)
        before = line[: span.column - 1].rstrip()
        if before.endswith(")"):
            edit = (Span(span.line, len(before) + 1, span.line, span.column), ": ")
    elif (match := _DID_YOU_MEAN.search(hint)) is not None:
        replacement = match.group(1).lstrip("#").strip()  # M004's '# func' is the keyword
        if re.fullmatch(r"[\w.]+", replacement):
            edit = (span, replacement)
    if edit is None:
        return None
    place, text = edit
    title = f"Replace with '{text.strip()}'" if text != ": " else "Add ':' before the return type"
    change = types.TextEdit(text_map.range(place), text)
    return types.CodeAction(
        title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[to_lsp(diagnostic, text_map)],
        edit=types.WorkspaceEdit(changes={analysis.uri: [change]}),
        is_preferred=True,
    )


def _answers(
    analysis: Analysis, func: Func, report: SpecReport | None, flags: Mapping[str, Any]
) -> list[types.CodeAction]:
    """ "Add example: `f(x) = y`" for each answer to each open question about `func`."""
    assert analysis.module is not None
    out = outputs(analysis.path, analysis.module, analysis.text, report, flags)
    questions = out.questions(func.name)
    if not questions:
        return []
    written = {re.sub(r"\s+", "", e.call) for e in func.examples if e.call}
    try:
        added = add_example(analysis.text, func.name, _CALL, _EXPECTED)
    except ValueError:
        return []
    template = minimal_edit(analysis.map, added)
    actions = []
    for question in questions:
        # A lock's question is no proof that a compile asked it: its call and answers are
        # written into the spec, and run with its tests, so they are checked again.
        if re.sub(r"\s+", "", question.call) in written or not asks_about(question.call, func):
            continue
        for reply in question.replies:
            if reply.expected is None or not example_answer(reply.expected):
                continue
            text = template.new_text.replace(_CALL, question.call)
            text = text.replace(_EXPECTED, reply.expected)
            change = types.TextEdit(template.range, text)
            actions.append(
                types.CodeAction(
                    f"Add example: `{question.call} = {reply.expected}`",
                    kind=types.CodeActionKind.QuickFix,
                    edit=types.WorkspaceEdit(changes={analysis.uri: [change]}),
                )
            )
    return actions


def minimal_edit(text_map: TextMap, new: str) -> types.TextEdit:
    """The one edit that turns the mapped text into `new`: what lies between their common
    start and their common end."""
    old = text_map.text
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    place = types.Range(text_map.position(prefix), text_map.position(len(old) - suffix))
    return types.TextEdit(place, new[prefix : len(new) - suffix])
