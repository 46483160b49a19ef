"""Prompts for one unit, rendered from the Jinja templates in `templates/`.

Two forms: a chat form for instruct models (the answer is one fenced python block) and a
completion form for base models (module header, types, the stub with its docstring and
doctests; the model continues with the body). The templates' hash is part of every unit's
cache key, so editing a template recompiles what it produced. A repair prompt carries what a
candidate returned, so it is sent with the compiler's secrets redacted (`redact`).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files

from marshalike.backends.base import Prompt, PromptKind
from marshalike.codegen import emit
from marshalike.language.naming import parse_or_none
from marshalike.language.spec import Example, Func, Module
from marshalike.sandbox.verify import ExampleResult
from marshalike.synth import verdict_text
from marshalike.synth.redact import redact

# A base model's completion ends where the next top-level statement would begin, most
# useful first: servers that take only four (OpenAI's API) get the first four, and the
# extractor cuts at the first line back at column 0 anyway.
COMPLETION_STOPS = (
    "\ndef ", "\nclass ", "\n\n\n", "\n#", "\nif ", "\nprint", "\n@", "\nassert", "\n>>>",
    "\n```",
)  # fmt: skip
# A small model that writes the same block of lines three times in a row has looped: its
# completion ends there, as if its tokens had run out, where the backend can tell.
LOOPS = 3
# Modules the completion prompt imports for the model; `with_header_imports` carries the ones
# a body uses over to the candidate, since the prompt's header is not part of its code.
_PRELUDE_MODULES = ("math", "re")
_HEADER_IMPORTS = "from __future__ import annotations\n\n" + "\n".join(
    f"import {name}" for name in _PRELUDE_MODULES
)
_DATACLASS_IMPORT = "from dataclasses import dataclass"
HELD_OUT_NOTE = (
    "it fails a further example of the specification that is not shown here; "
    "follow the description in every case, not only in the examples shown"
)


@dataclass(frozen=True)
class UnitContext:
    """What a prompt for one function may show: its module and its verified dependencies."""

    module: Module
    func: Func
    dependencies: Mapping[str, str]


@functools.cache
def template_version() -> str:
    digest = hashlib.sha256()
    folder = files("marshalike.synth").joinpath("templates")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".j2"):
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def first_prompt(ctx: UnitContext, kind: PromptKind) -> Prompt:
    if kind == "completion":
        return Prompt("completion", text=_completion_text(ctx, failures=()))
    system = _render("system.j2")
    user = _render("chat.j2", **_chat_vars(ctx))
    return Prompt("chat", messages=(("system", system), ("user", user)))


def repair_prompt(
    ctx: UnitContext,
    previous: Prompt,
    *,
    code: str,
    problems: Sequence[str],
    failures: Sequence[str],
    total: int,
    held_out_failed: bool = False,
    probe_failure: str | None = None,
) -> Prompt:
    """Attempt k+1: the best candidate of attempt k and what was wrong with it.

    `held_out_failed`: the candidate failed an example the prompts do not show; the
    prompt says so without saying which example, so that passing it stays a real test.
    `probe_failure`: why the loop's probe gate rejected a candidate that passes (see
    `overfit`); its input is our own, not a hidden test, so showing it gives nothing away."""
    if previous.kind == "completion":
        notes = [*problems, *failures, *([probe_failure] if probe_failure else [])]
        notes += [HELD_OUT_NOTE] if held_out_failed else []
        return Prompt("completion", text=redact(_completion_text(ctx, failures=notes)))
    answer = f"```python\n{code.rstrip()}\n```"
    feedback = _render(
        "repair.j2",
        problems=problems,
        failures=failures,
        total=total,
        held_out_failed=held_out_failed,
        probe_failure=probe_failure,
    )
    first_two = previous.messages[:2]
    reply = (("assistant", redact(answer)), ("user", redact(feedback)))
    return Prompt("chat", messages=(*first_two, *reply))


def stops(kind: PromptKind) -> tuple[str, ...]:
    return COMPLETION_STOPS if kind == "completion" else ()


def completion_stub(ctx: UnitContext) -> str:
    """The stub the completion prompt ends with: signature and docstring, no body."""
    stub = emit.stub_source(ctx.module, ctx.func).rstrip("\n")
    lines = stub.splitlines()
    if lines and lines[-1].strip() == "raise NotImplementedError":
        lines = lines[:-1]
    return "\n".join(lines) + "\n"


def with_header_imports(code: str) -> str:
    """A completion's code plus the header imports its body relies on."""
    used = [m for m in _PRELUDE_MODULES if re.search(rf"(?<![\w.]){m}\.", code)]
    return "".join(f"import {m}\n" for m in used) + ("\n" if used else "") + code


def describe_failure(result: ExampleResult, func: Func, timeout_s: float) -> str | None:
    """One line a model (or a person) can act on; None for a passing example."""
    return verdict_text.describe(result, func, timeout_s)


def _chat_vars(ctx: UnitContext) -> dict[str, object]:
    func = ctx.func
    return {
        "func": func,
        "module_name": ctx.module.name,
        "types_source": emit.types_source(ctx.module).strip(),
        "dependencies": _dependencies(ctx),
        "stub": emit.stub_source(ctx.module, func).rstrip(),
        "checkable": [_show(e) for e in func.examples if e.checkable],
        "informal": [e.text for e in func.examples if not e.checkable],
    }


def _completion_text(ctx: UnitContext, failures: Sequence[str]) -> str:
    return (
        _render(
            "completion.j2",
            func=ctx.func,
            module_name=ctx.module.name,
            header_imports=_HEADER_IMPORTS + ("\n" + _DATACLASS_IMPORT if ctx.module.types else ""),
            types_source=emit.types_source(ctx.module).strip(),
            dependencies=_dependencies(ctx),
            failures=[f.replace("\n", " ") for f in failures],
            stub=completion_stub(ctx).rstrip("\n"),
        ).rstrip("\n")
        + "\n"
    )


def used_types_shown(
    module: Module, func: Func, types: Mapping[str, str], files: Mapping[str, str]
) -> dict[str, str]:
    """The used specs' types (`types`, by name to module) that `func`'s examples build, as
    the prompt shows them beside the used functions, by name: the import that gets one,
    then its dataclass, from the used module's text in `files`, as a comment."""
    named = {word for e in func.examples for word in re.findall(r"[^\W\d]\w*", e.text)}
    shown = {}
    for name, where in types.items():
        source = _class_source(files.get(f"{where}.py", ""), name)
        if name in named and module.type(name) is None and source:
            commented = "\n".join(f"# {line}".rstrip() for line in source.splitlines())
            shown[name] = f"from {where} import {name}\n{commented}"
    return shown


def _class_source(text: str, name: str) -> str | None:
    tree = parse_or_none(text, "exec")
    body = tree.body if isinstance(tree, ast.Module) else []
    found = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == name), None)
    segment = ast.get_source_segment(text, found) if found is not None else None
    return f"@dataclass\n{segment}" if segment else None


def _dependencies(ctx: UnitContext) -> str:
    return "\n\n\n".join(code.strip() for _, code in sorted(ctx.dependencies.items()))


def _show(example: Example) -> str:
    if example.outcome == "raises":
        return f"{example.call} raises {example.exception}"
    return f"{example.call} == {example.expected}"


def _render(name: str, **variables: object) -> str:
    return emit.environment("marshalike.synth").get_template(name).render(**variables)
