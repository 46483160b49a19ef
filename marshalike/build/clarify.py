"""Answering the questions a compile leaves open (`gate.questions`): each answer becomes an
example bullet under its function (`language.edit.add_example`), and the next compile holds
the code to it.

A spec's questions are read from its lock, and only while the lock is current: once the
spec has changed since it was compiled they may no longer be what its examples leave open.
Answers come from a person at a terminal (`converse`) or from a JSON file (`read_answers`);
either way each one must read back as the example it was meant to be before a spec is
written, and a spec is written whole (`output.write_atomic`).
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshalike.build.lock import lock_path, read_lock
from marshalike.build.output import interrupted, write_atomic
from marshalike.build.plan import make_plan
from marshalike.codegen import emit
from marshalike.errors import MarshalikeError
from marshalike.gate.questions import Question, asks_about, example_answer
from marshalike.language import examples
from marshalike.language.diagnostics import Diagnostic
from marshalike.language.edit import add_example
from marshalike.language.exceptions import exception_class, is_standard
from marshalike.language.graph import SpecGraph
from marshalike.language.load import load_spec, load_text
from marshalike.language.naming import parse_or_none
from marshalike.language.parse import parse
from marshalike.language.spec import Example, Func
from marshalike.synth.redact import redact

Ask = Callable[[str], str]  # shows a prompt, returns the line typed
Say = Callable[[str], None]

_RAISES = re.compile(r"raises ([^\W\d]\w*(?:\.[^\W\d]\w*)*)")
# The answer for an input that is no valid input: any error will do (an example's
# `throws an error`, which expects Exception).
ANY_ERROR = "throws an error"


class ClarifyError(MarshalikeError):
    """Questions that cannot be asked, or answers that cannot become examples."""

    exit_code = 2


@dataclass(frozen=True)
class Open:
    """A question the lock of `spec` records for its function `func`."""

    spec: Path
    func: str
    question: Question


@dataclass(frozen=True)
class Answer:
    """An example to add to `spec`: `* CALL = EXPECTED` under `func`."""

    spec: Path
    func: str
    call: str
    expected: str


def open_questions(paths: Sequence[Path], out: Path | None, graph: SpecGraph) -> list[Open]:
    """The questions the locks of `paths` record, spec by spec, each function's best first.
    ClarifyError, naming every such spec, where one has errors or changed since it was
    compiled (its outputs are in `out`, or beside it when None)."""
    found: list[Open] = []
    problems: list[str] = []
    specs: dict[Path, Path] = {}
    for path in paths:  # one file given twice (`a.mrsh ./a.mrsh`) is asked about once
        specs.setdefault(graph.key(path), path)
    for path in specs.values():
        asked = _locked_questions(path, out, graph)
        if isinstance(asked, str):
            problems.append(asked)
        else:
            found.extend(asked)
    if problems:
        them = "it" if len(problems) == 1 else "them"
        raise ClarifyError(f"{'; '.join(problems)}: compile {them} first")
    return found


def _locked_questions(path: Path, out: Path | None, graph: SpecGraph) -> list[Open] | str:
    """The spec's open questions, or why its lock does not tell them."""
    loaded = load_spec(path, graph)
    if loaded.module is None or loaded.has_errors:
        return f"{path} has errors"
    module = loaded.module
    folder = out or path.parent
    lock_file = lock_path(folder, module.name)
    if interrupted(folder, module.name):
        return f"{path} has outputs in {folder} that an interrupted write left out of step"
    if not lock_file.exists():
        return f"{path} was never compiled (there is no {lock_file})"
    lock = read_lock(lock_file, path.name)
    current = emit.spec_hash(loaded.source)
    if lock.pending_hash and lock.pending_hash == current:
        # Its last compile failed, or left functions for later: the questions of those that
        # failed are pending, and the others' are their units', compiled for this text.
        failed = {*lock.pending, *lock.failures}
    elif lock.spec_hash != current:
        return f"{path} changed since it was compiled"
    else:
        failed = set()
    found = []
    for func in module.funcs:
        unit = lock.units.get(func.name)
        asked = lock.pending.get(func.name, ()) if func.name in failed else ()
        if func.name not in failed and unit is not None:
            asked = unit.questions
        # A lock is no proof that a question asks about the function: it is checked.
        found += [Open(path, func.name, q) for q in asked if asks_about(q.call, func)]
    return found


def answer_problem(text: str) -> str | None:
    """Why `text` cannot stand after `=` in an example bullet (`_unknown_error` too)."""
    if text == ANY_ERROR or _RAISES.fullmatch(text):
        return None
    problem = examples.answer_problem(text, "neither a Python expression nor `raises NameOfError`")
    if problem is None and "float('nan')" in examples.normalize(text):
        return "NaN equals no value, so no code could pass an example that expects it"
    return problem


def with_answers(text: str, answers: Iterable[Answer]) -> str:
    """`text` with each answer's example added. ClarifyError where an answer is not a valid
    one, does not read back from the new text as the example it was meant to be, or gives
    the spec an error it did not have (`_spec_problem`)."""
    graph = SpecGraph()
    for answer in answers:
        problem = answer_problem(answer.expected)
        if problem is None and not answer.call.isprintable():
            problem = "a call is one line of printable characters"
        if problem is None:
            problem = _unknown_error(text, answer.expected)
        if problem is None:
            previous, before = text, _func(text, answer.func)
            try:
                text = add_example(text, answer.func, answer.call, answer.expected)
            except ValueError as exc:
                raise ClarifyError(f"{answer.spec}: {exc}") from None
            after = _func(text, answer.func)
            count = len(before.examples) if before is not None else 0
            if after is None or not _has_example(after, answer) or len(after.examples) != count + 1:
                problem = f"`{answer.expected}` does not read back as one example's answer"
            else:
                problem = _spec_problem(answer.spec, previous, text, graph)
        if problem is not None:
            raise ClarifyError(f"{answer.spec}: {answer.call}: {problem}")
    return text


def record(answers: Sequence[Answer]) -> list[Path]:
    """Add each answer's example to its spec. Every spec's new text is made and checked
    before any spec is written; returns the specs written, in the answers' order."""
    grouped: dict[Path, list[Answer]] = {}
    for answer in answers:
        grouped.setdefault(answer.spec, []).append(answer)
    texts = {spec: with_answers(_read(spec), group) for spec, group in grouped.items()}
    for spec, text in texts.items():
        try:
            write_atomic(spec.resolve(), text)
        except OSError as exc:
            raise ClarifyError(f"{spec}: cannot write: {exc.strerror or exc}") from None
    return list(texts)


def to_recompile(paths: Sequence[Path], written: Sequence[Path], graph: SpecGraph) -> list[Path]:
    """The specs among `paths` that were written, or use one that was, in `paths`' order.
    `graph` reads the written specs again."""
    again = graph.changed(written).recompile
    return [path for path in paths if graph.key(path) in again]


# --- answers from a file -------------------------------------------------------------------


def read_answers(file: Path, paths: Sequence[Path], asked: Sequence[Open]) -> list[Answer]:
    """The answers `file` gives (the format is the `clarify` command's help). ClarifyError,
    before anything is written, where the file is not of that shape, an answer is not
    valid, or a key names no spec among `paths` and no open question of that spec. A call
    the spec already has as an example with the same answer is left out, so a file can be
    given again."""
    data = _json_object(file)
    specs: dict[Path, Path] = {}
    for path in paths:  # the first of two names for one file, as `open_questions` has it
        specs.setdefault(path.resolve(), path)
    answers: list[Answer] = []
    problems: list[str] = []
    for key, calls in data.items():
        spec = specs.get(Path(key).resolve())
        if spec is None:
            problems.append(f"{json.dumps(key)} is not one of the specs given")
            continue
        if not isinstance(calls, dict):
            problems.append(f"{json.dumps(key)} should map calls to answers")
            continue
        for call, said in calls.items():
            found, problem = _file_answer(spec, call, said, asked)
            answers.extend(found)
            problems.extend([] if problem is None else [problem])
    answers, twice = _once_each(answers)
    problems += twice
    if problems:
        raise ClarifyError(f"{file}: {'; '.join(problems)}")
    return answers


def _once_each(answers: Sequence[Answer]) -> tuple[list[Answer], list[str]]:
    """Each question's answer once (two names of one spec, or two spellings of one call,
    can answer it twice), and a problem for each question answered two ways."""
    kept: dict[tuple[Path, str], Answer] = {}
    problems = []
    for answer in answers:
        key = (answer.spec, _normal(answer.call))
        first = kept.setdefault(key, answer)
        if _said(first.expected) != _said(answer.expected):
            problems.append(f"{answer.spec}: {json.dumps(answer.call)} is answered twice, two ways")
    return list(kept.values()), problems


def _json_object(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClarifyError(f"{file}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClarifyError(f"{file}: cannot be read as JSON ({why})") from None
    if not isinstance(data, dict):
        raise ClarifyError(f"{file}: should be a JSON object mapping specs to their answers")
    return data


def _file_answer(
    spec: Path, call: str, said: object, asked: Sequence[Open]
) -> tuple[list[Answer], str | None]:
    """The answer one entry gives (none for null), or why it gives none."""
    where = f"{spec}: {json.dumps(call)}"
    if said is not None and not isinstance(said, str):
        return [], f"{where} should be answered by a string or null"
    question = next(
        (o for o in asked if o.spec == spec and _normal(o.question.call) == _normal(call)), None
    )
    if question is None:
        return [], _not_asked(spec, call, said, where)
    if said is None:
        return [], None
    expected = said.strip()
    problem = answer_problem(expected)
    if problem is not None:
        return [], f"{where}: {problem}"
    return [Answer(spec, question.func, question.question.call, expected)], None


def _not_asked(spec: Path, call: str, said: str | None, where: str) -> str | None:
    """None where the spec already has the call as an example with the same answer."""
    module = parse(_read(spec)).module
    examples = [e for f in (module.funcs if module else ()) for e in f.examples]
    same = [e for e in examples if e.call is not None and _normal(e.call) == _normal(call)]
    if not same:
        return f"{where} is not an open question of that spec"
    if said is None or any(_outcome(e) == _said(said.strip()) for e in same):
        return None
    return f"{where} is already an example of that spec, with another answer"


# --- answers from a person -----------------------------------------------------------------


class _Stop(Exception):
    """The person asked to stop answering."""


def converse(asked: Sequence[Open], ask: Ask, say: Say) -> list[Path]:
    """Ask each question in turn through `ask` and `say`, writing each answer into its spec
    as it is given; `q` stops the asking. Returns the specs written, each once."""
    written: list[Path] = []
    for item in asked:
        try:
            expected = choose(item, ask, say)
        except _Stop:
            break
        if expected is not None:
            record([Answer(item.spec, item.func, item.question.call, expected)])
            written.extend([] if item.spec in written else [item.spec])
    return written


def choose(item: Open, ask: Ask, say: Say) -> str | None:
    """The answer a person picks for one question: one of the candidates' answers that can
    be an example, one they type, or None to skip it. Anything else is asked again."""
    offered = _offered(item.question, _types_of(item.spec))
    other, skip = len(offered) + 1, len(offered) + 2
    for line in _menu(item, offered):
        say(line)
    while True:
        said = ask(f"choice [1-{skip}, q to stop]").strip()
        if said == "q":
            raise _Stop
        if not (said.isdecimal() and 1 <= int(said) <= skip):
            say(f"  type a number from 1 to {skip}, or q to stop")
            continue
        if int(said) == skip:
            return None
        if int(said) == other:
            typed = _typed(item, ask, say)
            if typed is not None:
                return typed
            continue
        problem = _example_problem(item, offered[int(said) - 1])
        if problem is None:
            return offered[int(said) - 1]
        say(f"  {problem}")


def _typed(item: Open, ask: Ask, say: Say) -> str | None:
    """An answer the person types, asked again until it can be an example; None (an empty
    line) goes back to the choices."""
    while True:
        typed = ask("answer (a Python expression, or raises NameOfError; empty to go back)")
        if not typed.strip():
            return None
        problem = _example_problem(item, typed.strip())
        if problem is None:
            return typed.strip()
        say(f"  {problem}")


def _offered(question: Question, types: Collection[str] = ()) -> list[str]:
    """The replies that can be written as an example's answer (`example_answer`: what the
    code could answer, checked again, since a lock is no proof of it) and hold nothing
    secret, and for an input the code crashed on, that it is no valid input (any error
    will do). A reply that calls one of the spec's `types` by name is not offered: the
    code's answers write records with keywords, so `Decimal('1')` is the standard type's
    value, which the example would read as the spec's own `Decimal`."""
    offered = [
        r.expected
        for r in question.replies
        if r.expected is not None
        and example_answer(r.expected)
        and redact(r.expected) == r.expected
        and not _names_called(r.expected) & set(types)
    ]
    return [*offered, ANY_ERROR] if question.why and ANY_ERROR not in offered else offered


def _menu(item: Open, offered: Sequence[str]) -> list[str]:
    question = item.question
    lines = [
        "",
        f"{item.spec}: {item.func}: the examples leave `{redact(question.call)}` open; "
        "code that passes them answers:",
    ]
    if question.why:
        lines[-1] = (
            f"{item.spec}: {item.func}: `{redact(question.call)}` {redact(question.why)}; is "
            "it a valid input, and if so, what should it return? The code that passes the "
            "examples answers:"
        )
    for reply in question.replies:
        support = f"{reply.support} candidate{'s' * (reply.support != 1)}"
        if reply.expected in offered:
            lines.append(f"  {offered.index(reply.expected) + 1}. {reply.expected}  ({support})")
        else:
            lines.append(f"     {redact(reply.shown)}  ({support}; cannot be an example)")
    if ANY_ERROR in offered and ANY_ERROR not in (r.expected for r in question.replies):
        lines.append(f"  {offered.index(ANY_ERROR) + 1}. {ANY_ERROR}  (not a valid input)")
    lines.append(f"  {len(offered) + 1}. other: a Python expression, or raises NameOfError")
    lines.append(f"  {len(offered) + 2}. skip: leave it open")
    return lines


def _types_of(spec: Path) -> set[str]:
    module = parse(_read(spec)).module
    return {t.name for t in module.types} if module is not None else set()


def _names_called(source: str) -> set[str]:
    tree = parse_or_none(source)
    return {
        node.func.id
        for node in (ast.walk(tree) if tree is not None else ())
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


def _example_problem(item: Open, expected: str) -> str | None:
    """Why `expected` cannot be added to the spec as the question's answer, or None."""
    answer = Answer(item.spec, item.func, item.question.call, expected)
    try:
        with_answers(_read(item.spec), [answer])
    except ClarifyError as exc:
        return str(exc).removeprefix(f"{item.spec}: {item.question.call}: ")
    return None


# --- the spec's errors --------------------------------------------------------------------


def _spec_problem(spec: Path, before: str, after: str, graph: SpecGraph) -> str | None:
    """The first error the spec at `spec` has as the text `after` and not as `before`,
    said in one line; None where it has none. The errors are those a compile reports
    before it asks any model: the load's (`load_text`) and the plan's (a cycle of calls)."""
    errors = _errors(spec, after, graph)
    if errors:
        had = {(d.code, d.message) for d in _errors(spec, before, graph)}
        errors = [d for d in errors if (d.code, d.message) not in had]
    if not errors:
        return None
    first = errors[0]
    hint = f" (hint: {first.hint})" if first.hint else ""
    return f"it would give the spec an error: {first.message} [{first.code}]{hint}"


def _errors(spec: Path, text: str, graph: SpecGraph) -> list[Diagnostic]:
    loaded = load_text(spec, text, graph)
    found = list(loaded.diagnostics)
    if loaded.module is not None and not loaded.has_errors:
        # The plan's findings depend on neither the model nor the prompts.
        found += make_plan(loaded.module, model="", template_version="").diagnostics
    return [d for d in found if d.is_error]


# --- reading examples back -----------------------------------------------------------------


def _unknown_error(text: str, said: str) -> str | None:
    """Why the answer `said` raises what neither Python nor the spec `text` knows, or None:
    a test checks a spec's own error by its class's name, so any other is most likely a
    slip (`raises NotAnError`); `throws an error` says "some error"."""
    raised = _RAISES.fullmatch(said)
    if raised is None or is_standard(raised[1]) or exception_class(raised[1]) is not None:
        return None  # a standard library name that is none is the spec's error (M051)
    module = parse(text).module
    funcs, types = (module.funcs, module.types) if module is not None else ((), ())
    # Its errors; its names and built-in values are its error M056, which says so.
    known = {e.exception for f in funcs for e in f.examples} | set(dir(builtins))
    if raised[1] in known | {f.name for f in funcs} | {t.name for t in types}:
        return None
    said = f"'{raised[1]}' is no exception Python has, and no example of the spec raises it"
    return f"{said}: raise one that is (ValueError, json.JSONDecodeError), or `{ANY_ERROR}`"


def _func(text: str, name: str) -> Func | None:
    """The function `name` as the spec `text` reads."""
    module = parse(text).module
    return module.func(name) if module is not None else None


def _has_example(func: Func, answer: Answer) -> bool:
    want = (_normal(answer.call), _said(answer.expected))
    return any(e.call is not None and (_normal(e.call), _outcome(e)) == want for e in func.examples)


def _outcome(example: Example) -> tuple[str, str | None]:
    if example.outcome == "raises":
        return ("raises", example.exception)
    return (example.outcome, _normal(example.expected or ""))


def _said(expected: str) -> tuple[str, str | None]:
    """What an answer says, compared the way `_outcome` reads an example."""
    if expected == ANY_ERROR:
        return ("raises", "Exception")
    raised = _RAISES.fullmatch(expected)
    # `true`, `null`... read as the spec reads them (`True`, `None`).
    return ("raises", raised[1]) if raised else ("returns", _normal(examples.normalize(expected)))


def _normal(source: str) -> str:
    """A Python expression with its spacing made canonical (`f( 1,2 )` reads `f(1, 2)`)."""
    try:
        return ast.unparse(ast.parse(source.strip(), mode="eval"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return source.strip()


def _read(spec: Path) -> str:
    try:
        with spec.open(encoding="utf-8", newline="") as handle:  # line endings as they are
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ClarifyError(f"{spec}: cannot read: {why}") from None
