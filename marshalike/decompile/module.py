"""Decompiling Python modules into specs, with a report line per `# use`, function and type.

A module is read without running it (`reading`); then, for each function that can be a
spec, its candidate inputs (`inputs`, with the calls of the project's tests, `from_tests`)
run in the sandbox against the module as it is, with the other `.py` files of its folder
beside it so its imports resolve, and the examples that pin its code down are kept
(`examples`); a function with no docstring gets a description from a model where a run
brings one (`describe`). Modules decompiled together get `# use` lines between their specs
(`uses`). Nothing of the user's code ever runs in this process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from marshalike.decompile import uses, writing
from marshalike.decompile.describe import Describer
from marshalike.decompile.errors import DecompileError
from marshalike.decompile.examples import Measured, Sandbox, measure
from marshalike.decompile.from_tests import ProjectTests
from marshalike.decompile.inputs import candidate_calls
from marshalike.decompile.phrases import phrase_of
from marshalike.decompile.reading import (
    Function,
    Reading,
    Record,
    Refusal,
    python_text,
    read_module,
)
from marshalike.language.naming import identifier
from marshalike.language.reserved import declared_name_problem
from marshalike.language.typemap import infer_literal_type
from marshalike.sandbox import channel
from marshalike.sandbox.isolation import Limits

_LINE_END = re.compile(r"\r\n?|\n")
_SIBLING_BYTES = 200_000  # the largest other module of the folder brought along
_SIBLINGS = 100


@dataclass(frozen=True)
class Aids:
    """What a run may bring besides the module: its project's tests (candidate inputs) and a
    model (descriptions where there is no docstring)."""

    tests: ProjectTests | None = None
    describer: Describer | None = None


@dataclass(frozen=True)
class FunctionReport:
    name: str
    examples: int
    measured: Measured | None  # None: refused before running
    refused: str  # why it is prose for a human; "" when it is a `# func`
    notes: tuple[str, ...] = ()

    def line(self) -> str:
        if self.refused:
            return f"{self.name}: not decompiled: {self.refused}"
        assert self.measured is not None
        said = f"{self.name}: {self.examples} example{'s' * (self.examples != 1)}"
        said += f", {self.measured.strength.shown()}"
        return "; ".join([said, *self.notes])


@dataclass(frozen=True)
class Decompiled:
    spec: str
    functions: tuple[FunctionReport, ...]
    notes: tuple[str, ...]  # about the module and its types


def decompile_files(
    targets: Sequence[tuple[Path, Path]],
    *,
    functions: Sequence[str] = (),
    limits: Limits | None = None,
    jobs: int = 2,
    aids: Aids | None = None,
) -> Iterator[tuple[Path, Path, Decompiled]]:
    """Each module of (module, spec path) `targets` decompiled, with the `# use` lines
    between their specs (`uses`): a used module before its users, else in the given order.
    DecompileError where a module cannot be read, is not Python, or where `functions`
    names one that no module has, before any module is run."""
    sources = [_read(path) for path, _ in targets]
    pairs = zip(targets, sources, strict=True)
    readings = [_reading(source, str(path)) for (path, _), source in pairs]
    for name in functions:
        if not any(_defines(reading, name) for reading in readings):
            where = f"{targets[0][0]} has" if len(targets) == 1 else "none of the modules has"
            raise DecompileError(f"{where} no function {name!r} (--functions)")
    plan = uses.plan([(path, source) for (path, _), source in zip(targets, sources, strict=True)])
    spec_paths = [target for _, target in targets]
    held: dict[int, set[str]] = {}
    for i in plan.order:
        path, target = targets[i]
        done = decompile_source(
            sources[i],
            filename=str(path),
            functions=functions,
            limits=limits,
            jobs=jobs,
            extra_files=_siblings(path),
            aids=aids,
            links=uses.links(plan, i, spec_paths, held),
        )
        held[i] = {f.name for f in done.functions if not f.refused}
        yield path, target, done


def decompile_source(
    source: str,
    *,
    filename: str,
    functions: Sequence[str] = (),
    limits: Limits | None = None,
    jobs: int = 2,
    extra_files: Mapping[str, str] | None = None,
    aids: Aids | None = None,
    links: Sequence[uses.Link] = (),
) -> Decompiled:
    """The spec for the module `source`; `links` are its `# use` lines and those left out
    (`uses.links`)."""
    aids = aids or Aids()
    reading = _reading(source, filename)
    wanted = [f for f in reading.functions if not functions or f.name in functions]
    module_name = module_name_of(filename)
    sandbox = Sandbox(
        module_name,
        source,
        limits or Limits(),
        tuple(f"{module_name}.{name}" for name in reading.records),
        {k: v for k, v in (extra_files or {}).items() if k != f"{module_name}.py"},
        jobs,
    )
    notes = [link.note for link in links]
    _, problem = channel.run_calls(
        source,
        ["None"],
        module_name=module_name,
        limits=sandbox.limits,
        per_call_s=sandbox.limits.timeout_s,
        extra_files=dict(sandbox.extra_files),
        keep_docstrings=True,  # the user's own module, run as it is
    )
    if problem is not None:
        said = problem.splitlines()[0] if problem.strip() else "no reason given"  # one line
        notes.append(f"the module cannot be imported in the sandbox ({said}): no examples")
    reports: list[FunctionReport] = []
    sections: list[writing.Section] = []
    refusals: list[Refusal] = [
        m for m in reading.methods if not functions or m.name.split(".")[-1] in functions
    ]
    for func in wanted:
        report, section = _function(func, reading, sandbox, problem is None, aids)
        reports.append(report)
        if section is None:
            refusals.append(Refusal(func.name, func.signature, func.docstring, report.refused))
        else:
            sections.append(section)
    reports += [FunctionReport(m.name, 0, None, m.why) for m in reading.methods if m in refusals]
    types = []
    for record in _used_records(sections, reading.records):
        text, note = writing.type_section(record)
        types.append(text)
        if record.named_tuple:
            note = "; ".join(
                n for n in (note, f"type {record.name}: a NamedTuple, declared as a record") if n
            )
        if note:
            notes.append(note)
    intro = (
        (writing.prose(reading.docstring) + "\n\n" if reading.docstring else "")
        + f"Decompiled from `{Path(filename).name}` by `marshalike decompile`: every example "
        "below is what the existing code returned, run in the sandbox."
    )
    if not reports and not types:
        notes.append("no function to describe: the spec holds only the module's description")
    title = f"Decompiled from {Path(filename).name}"
    used = [link.spec for link in links if link.spec]
    text = writing.spec_text(title, intro, refusals, types, sections, used)
    return Decompiled(text, tuple(reports), tuple(notes))


def _reading(source: str, filename: str) -> Reading:
    """The module read (`read_module`); DecompileError, one line, where it is not Python."""
    try:
        return read_module(source, filename)
    except SyntaxError as exc:
        line = exc.lineno or _null_line(source)  # Python gives no line for a null byte
        where = f"{filename}:{line}" if line else filename
        raise DecompileError(f"{where}: not Python: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise DecompileError(f"{filename}: not Python: {exc}") from None


def _null_line(source: str) -> int | None:
    """The 1-based line of the first null byte of `source`, its lines counted as Python
    counts them; None where there is none."""
    at = source.find("\0")
    return None if at < 0 else len(_LINE_END.findall(source, 0, at)) + 1


def _defines(reading: Reading, name: str) -> bool:
    """Whether `--functions`' `name` is a function of the module, or a method's name."""
    named = [f.name for f in reading.functions] + [m.name.split(".")[-1] for m in reading.methods]
    return name in named


def module_path_problem(path: Path) -> str | None:
    """Why `path`, given on the command line, is no module to decompile; None when it is a
    `.py` file. One line, naming the path."""
    if path.suffix != ".py":
        return f"{path}: not a Python module; give a .py file"
    if path.is_dir():
        return f"{path}: is a directory, not a Python module"
    if not path.exists():
        return f"{path}: no such file"
    if not path.is_file():
        return f"{path}: not a regular file; give a .py file"
    return None


def module_name_of(filename: str) -> str:
    """The name the module is imported by in the sandbox: its file's stem, made an
    identifier."""
    return identifier(Path(filename).stem.replace("-", "_"), "module")


def _function(
    func: Function, reading: Reading, sandbox: Sandbox, importable: bool, aids: Aids
) -> tuple[FunctionReport, writing.Section | None]:
    if func.refused:
        return FunctionReport(func.name, 0, None, func.refused), None
    record_named = _undeclarable_record(func, reading.records)
    if record_named:
        return FunctionReport(func.name, 0, None, record_named), None
    tested = aids.tests.calls(sandbox.module_name, func, set(reading.records)) if aids.tests else ()
    calls = candidate_calls(func, reading.records, tested=tested) if importable else ()
    measured = measure(func, calls, sandbox)
    if measured.refused:
        return FunctionReport(func.name, 0, measured, measured.refused), None
    notes = []
    if not calls:
        notes.append("no inputs to run: examples left for a human")
    elif aids.tests is not None:
        notes.append(f"{len(tested)} input{'s' * (len(tested) != 1)} from the tests")
    description = ""
    if aids.describer is not None and not writing.prose(func.docstring):
        written = aids.describer.describe(func)
        description = written.text
        notes.append(written.note)
    inexact = [p.name for p in func.params if p.annotated and not p.phrase.exact]
    returns = _returns(func, measured)
    if func.returns_phrase is not None and not func.returns_phrase.exact:
        inexact.append("the result")
    if inexact:
        notes.append(f"types a phrase cannot say, written as `any`: {', '.join(inexact)}")
    section = writing.Section(func, writing.heading(func, returns), measured.examples, description)
    return FunctionReport(func.name, len(measured.examples), measured, "", tuple(notes)), section


def _returns(func: Function, measured: Measured) -> str | None:
    """The return phrase: the annotation's, else the type every measured value shares;
    None (returns nothing) where the code says `-> None` or every answer was None."""
    if func.returns_phrase is not None:
        return None if func.returns == "None" else func.returns_phrase.text
    values = [e.expected for e in measured.examples if not e.expected.startswith("raises ")]
    if values and all(v == "None" for v in values):
        return None
    kind = infer_literal_type(values)
    return phrase_of(kind, set()).text if kind else "any"


def _undeclarable_record(func: Function, records: Mapping[str, Record]) -> str:
    """Why `func` cannot be a spec because its signature names (directly or through fields)
    a record whose name a spec cannot declare as a type (`_Point`); "" where none."""
    for record in _named_records(_annotations(func), records):
        named = declared_name_problem("type", record.name)
        if named is not None:
            return f"its signature names the record {record.name}, and {named[0]}"
    return ""


def _annotations(func: Function) -> list[str]:
    return [a for a in [*(p.annotation for p in func.params), func.returns] if a]


def _used_records(
    sections: Sequence[writing.Section], records: Mapping[str, Record]
) -> list[Record]:
    """The records the sections' signatures name, and those their fields name, in the
    module's order."""
    return _named_records([a for s in sections for a in _annotations(s.func)], records)


def _named_records(annotations: Sequence[str], records: Mapping[str, Record]) -> list[Record]:
    """The records `annotations` name, and those their fields name, in the module's order."""
    named: set[str] = set()
    todo = list(annotations)
    while todo:
        text = todo.pop()
        for name, record in records.items():
            if name not in named and name in _words(text):
                named.add(name)
                todo += [a for _, a in record.fields if a]
    return [record for name, record in records.items() if name in named]


def _words(text: str) -> set[str]:
    return set("".join(c if c.isalnum() or c == "_" else " " for c in text).split())


def _read(path: Path) -> str:
    """The module's text, decoded as Python decodes it (`python_text`)."""
    if path.is_dir():
        raise DecompileError(f"{path}: is a directory, not a Python module")
    try:
        return python_text(path.read_bytes())
    except SyntaxError as exc:  # an encoding Python does not know, or a mark and another
        raise DecompileError(f"{path}: not Python: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        said = f"{exc.encoding} cannot decode byte 0x{exc.object[exc.start]:02x} on line {line}"
        if exc.encoding == "utf-8":
            said += " (a coding line names another encoding: `# -*- coding: latin-1 -*-`)"
        raise DecompileError(f"{path}: cannot be read: {said}") from None
    except OSError as exc:
        raise DecompileError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def _siblings(path: Path) -> dict[str, str]:
    """The other modules of the folder, so the module's imports of them resolve."""
    found: dict[str, str] = {}
    try:
        others = sorted(p for p in path.resolve().parent.glob("*.py") if p.name != path.name)
    except OSError:
        return found
    for other in others[:_SIBLINGS]:
        try:
            if other.stat().st_size <= _SIBLING_BYTES:
                found[other.name] = python_text(other.read_bytes())
        except (OSError, UnicodeDecodeError, SyntaxError):
            continue
    return found
