"""Loading a spec: its parse (from the spec graph), CSV-backed types filled from their
files, `# use`s resolved, then the checks.

Spec files are read by `files.read_spec`, through `graph.SpecGraph`; CSV files are read
here; parse and check stay pure.
Its codes are M030-M039 of `marshalike.language.codes`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from marshalike.errors import SpecError
from marshalike.language.codes import Code, report
from marshalike.language.diagnostics import Diagnostic, Span, has_errors, sort_key
from marshalike.language.files import file_kind, os_reason, read_regular
from marshalike.language.graph import SpecFile, SpecGraph
from marshalike.language.parse import parse
from marshalike.language.semantics import check
from marshalike.language.spec import Func, Module, TypeDef, Use

SPEC_SUFFIX = ".mrsh"
# A CSV-backed type keeps this many rows as samples (for field types and the prompt); the
# rest of the file is only checked for shape.
MAX_SAMPLE_ROWS = 50


@dataclass(frozen=True)
class LoadResult:
    """A loaded spec. `module` is None when the text could not be parsed at all."""

    path: str
    module: Module | None
    diagnostics: tuple[Diagnostic, ...]
    source: str

    @property
    def has_errors(self) -> bool:
        return has_errors(self.diagnostics)


def load_spec(path: str | Path, graph: SpecGraph | None = None) -> LoadResult:
    """Read, parse and check one spec; raises SpecError only when the file can't be read,
    or when a file not named `*.mrsh` does not read as a spec without errors. The spec
    and the specs it uses are read through `graph` (a new one when None), which keeps
    them for the next spec of the run."""
    graph = graph or SpecGraph()
    file = Path(path)
    spec = graph.file(file)
    if spec.error is not None:
        raise _unreadable(spec.error, str(path))
    return _load(file, str(path), graph, _used_errors(file, graph), insist=True)


def load_text(path: str | Path, text: str, graph: SpecGraph | None = None) -> LoadResult:
    """The spec at `path` as `load_spec` would load it were `text` its content: parsed and
    checked, with its CSV files and the specs it uses read from disk (through `graph`) as
    they are. The file itself is not read; it need not exist. How an edit would read
    before it is written (`marshalike clarify`'s answers)."""
    graph = graph or SpecGraph()
    file, display = Path(path), str(path)
    parsed = parse(text, display)
    if parsed.module is None:
        return LoadResult(display, None, tuple(sorted(parsed.diagnostics, key=sort_key)), text)
    used = _used_errors(file, graph, [graph.target(file, use) for use in parsed.module.uses])
    module, found = _resolve(parsed.module, file, graph, used)
    found.extend(parsed.diagnostics)
    return LoadResult(display, module, tuple(sorted(found, key=sort_key)), text)


# The errors of each spec a spec uses, at any depth, as loading it alone finds them.
_UsedErrors = dict[Path, tuple[Diagnostic, ...]]


def _load(
    file: Path, display: str, graph: SpecGraph, used: _UsedErrors, *, insist: bool
) -> LoadResult:
    """Load a spec the graph has read; with `insist`, one named on the command line."""
    spec = graph.file(file)
    not_utf8 = spec.content.not_utf8(display) if spec.content is not None else None
    if not_utf8 is not None or spec.parsed is None:
        _insist_on_spec(file, display, "it is not UTF-8 text", insist)
        return LoadResult(display, None, (not_utf8,) if not_utf8 else (), spec.source)
    parsed = spec.parsed_as(display)
    if parsed.module is None:
        _insist_on_spec(file, display, "it has syntax errors", insist)
        diagnostics = tuple(sorted(parsed.diagnostics, key=sort_key))
        return LoadResult(display, None, diagnostics, spec.source)
    if not parsed.module.funcs and not parsed.module.types:
        _insist_on_spec(file, display, "it declares no `# func` or `# type`", insist)
    module, found = _resolve(parsed.module, file, graph, used)
    found.extend(parsed.diagnostics)
    if has_errors(found):
        _insist_on_spec(file, display, "it has errors", insist)
    return LoadResult(display, module, tuple(sorted(found, key=sort_key)), spec.source)


def _used_errors(file: Path, graph: SpecGraph, uses: Iterable[Path] | None = None) -> _UsedErrors:
    """The errors of every spec that the spec at `file` reaches through its `# use`s (or,
    where its text is not the file's, through the specs `uses`), each loaded once, after
    the specs it uses (`SpecGraph.order`), so that no load recurses and a spec with errors
    deep down is reported at every level above it (M036), all but a circle of uses."""
    found: _UsedErrors = {}
    root = graph.key(file)
    for key in graph.order([root] if uses is None else uses):
        if key != root and graph.file(key).error is None:
            loaded = _load(key, key.name, graph, found, insist=False)
            # A circle of uses is reported where it closes (M035), not above it.
            found[key] = tuple(
                d for d in loaded.diagnostics if d.is_error and d.code != Code.CIRCULAR_USE
            )
    return found


def _insist_on_spec(file: Path, display: str, why: str, insist: bool = True) -> None:
    """A file named `*.mrsh` is a spec, errors and all; any other file named on the command
    line is one only when it reads as one, so a stray argument never gets outputs written
    next to it."""
    if insist and file.suffix != SPEC_SUFFIX:
        raise SpecError(
            f"{display}: not a {SPEC_SUFFIX} file, and {why}; "
            f"name the spec with the {SPEC_SUFFIX} suffix"
        )


def spec_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders expanded to every `*.mrsh` below them (sorted), no repeats.

    Anything else (a FIFO, a device, a socket) is refused before it is opened: reading one
    could block forever or never end.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            specs = sorted(p for p in path.rglob(f"*{SPEC_SUFFIX}") if p.is_file())
            if not specs:
                raise SpecError(f"no {SPEC_SUFFIX} files under {path}")
            found.extend(specs)
        else:
            check_spec_file(path)
            found.append(path)
    return list(dict.fromkeys(found))


def check_spec_file(path: Path) -> None:
    """Raise SpecError unless `path` is a folder or a regular file (symlinks followed)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {os_reason(exc)}") from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        kind = file_kind(mode)
        raise SpecError(f"{path}: not a regular file ({kind}); give a {SPEC_SUFFIX} file")


def load_paths(paths: Iterable[str | Path]) -> list[LoadResult]:
    graph = SpecGraph()
    return [load_spec(path, graph) for path in spec_paths(paths)]


def _resolve(
    module: Module, file: Path, graph: SpecGraph, used: _UsedErrors
) -> tuple[Module, list[Diagnostic]]:
    found: list[Diagnostic] = []
    types = []
    for typedef in module.types:
        filled, problems = _fill_csv_type(typedef, file.parent, module.path)
        types.append(filled)
        found.extend(problems)
    module = dataclasses.replace(module, types=tuple(types))
    extra, used_types, problems = _resolve_uses(module, file, graph, used)
    found.extend(problems)
    found.extend(check(module, extra_functions=extra, used_types=used_types))
    return module, found


def _unreadable(exc: OSError, display: str) -> SpecError:
    if isinstance(exc, IsADirectoryError):
        return SpecError(f"{display}: is a directory, not a .mrsh file")
    if isinstance(exc, FileNotFoundError):
        return SpecError(f"{display}: no such file")
    return SpecError(f"{display}: cannot read: {os_reason(exc)}")


# --- CSV-backed types ----------------------------------------------------------------


def _fill_csv_type(typedef: TypeDef, folder: Path, path: str) -> tuple[TypeDef, list[Diagnostic]]:
    if typedef.source is None:
        return typedef, []
    span = _source_span(typedef)
    text = _read_csv_text(folder / typedef.source, typedef, span, path)
    if isinstance(text, Diagnostic):
        return typedef, [text]
    try:
        table = list(_csv_rows(text))
    except csv.Error as exc:
        return typedef, [
            _csv_diag(Code.CSV_UNREADABLE, f"cannot parse {_csv_name(typedef)}: {exc}", span, path)
        ]
    if not table:
        message = f"{_csv_name(typedef)} is empty"
        hint = "its first line must be the header, e.g. `name, age`"
        return typedef, [_csv_diag(Code.CSV_EMPTY, message, span, path, hint)]
    (_, header), body = table[0], table[1:]
    columns = tuple(header)
    rows = tuple(row for _, row in body[:MAX_SAMPLE_ROWS])
    filled = dataclasses.replace(typedef, columns=columns, rows=rows)
    return filled, list(_ragged_file_rows(typedef, columns, body, span, path))


def _read_csv_text(file: Path, typedef: TypeDef, span: Span, path: str) -> str | Diagnostic:
    """The file's text (a byte-order mark dropped), or why it could not be read."""
    name = _csv_name(typedef)
    try:
        return read_regular(file).decode("utf-8-sig")
    except FileNotFoundError:
        hint = "the path is relative to the spec's folder"
        return _csv_diag(Code.CSV_UNREADABLE, f"cannot find {name}", span, path, hint)
    except UnicodeDecodeError:
        return _csv_diag(Code.CSV_UNREADABLE, f"{name} is not UTF-8 text", span, path)
    except OSError as exc:
        return _csv_diag(Code.CSV_UNREADABLE, f"cannot read {name}: {os_reason(exc)}", span, path)


def _csv_rows(text: str) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(line number, stripped fields) for every non-blank row."""
    first = text.split("\n", 1)[0]
    # Marsha's files pad fields with spaces and tabs after the comma; a header with tabs
    # and no commas is a TSV file.
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    for row in reader:
        fields = tuple(field.strip() for field in row)
        if any(fields):
            yield reader.line_num, fields


def _ragged_file_rows(
    typedef: TypeDef,
    columns: tuple[str, ...],
    body: list[tuple[int, tuple[str, ...]]],
    span: Span,
    path: str,
) -> Iterator[Diagnostic]:
    # One diagnostic per file: the first bad row, and how many there are in all.
    bad = [(line, row) for line, row in body if len(row) != len(columns)]
    if not bad:
        return
    line, row = bad[0]
    message = (
        f"{typedef.source}:{line}: row has {_plural(len(row), 'field')} but the header has "
        f"{_plural(len(columns), 'column')} ({', '.join(columns)})"
    )
    if len(bad) > 1:
        message += f"; {len(bad)} rows do not match"
    yield _csv_diag(Code.CSV_RAGGED_ROWS, message, span, path)


def _source_span(typedef: TypeDef) -> Span:
    """The span of the file name in `# type NAME file.csv`."""
    heading = typedef.text.split("\n", 1)[0]
    index = heading.rfind(typedef.source or "")
    if not typedef.source or index < 0:
        return typedef.name_span
    line = typedef.span.line
    column = typedef.span.column + index
    return Span(line, column, line, column + len(typedef.source))


def _csv_name(typedef: TypeDef) -> str:
    return f"CSV file '{typedef.source}' of type '{typedef.name}'"


def _csv_diag(
    code: str, message: str, span: Span, path: str, hint: str | None = None
) -> Diagnostic:
    return Diagnostic("error", code, message, span, path, hint)


# --- `# use other.mrsh` --------------------------------------------------------------


def _resolve_uses(
    module: Module, file: Path, graph: SpecGraph, used_errors: _UsedErrors
) -> tuple[dict[str, Func], list[tuple[Use, TypeDef]], list[Diagnostic]]:
    """Functions and types the used specs declare (each type with its `# use` line), and
    what went wrong resolving them: a used spec with errors of its own, syntax or any
    other (`used_errors`), is M036."""
    extra: dict[str, Func] = {}
    declared_by: dict[str, Use] = {}  # each used function's first `# use`
    types: list[tuple[Use, TypeDef]] = []
    found: list[Diagnostic] = []
    root = graph.key(file)
    for use in module.uses:
        target = graph.target(file, use)
        used = graph.file(target)
        if used.parsed is None:
            verb = "find" if _missing(used) else "read"
            found.append(
                _use_diag(Code.USE_UNREADABLE, f"cannot {verb} used spec '{use.path}'", use, module)
            )
            continue
        cycle = graph.chain(target, root)
        if cycle is not None:
            chain = " -> ".join(_relative(p, root.parent) for p in [root, *cycle])
            found.append(_use_diag(Code.CIRCULAR_USE, f"circular use: {chain}", use, module))
        errors = sum(1 for d in used.parsed.diagnostics if d.is_error)
        others = used_errors.get(target, ()) if cycle is None else ()
        if errors:
            message = f"used spec '{use.path}' has {_plural(errors, 'syntax error')}"
            found.append(_use_diag(Code.USE_HAS_ERRORS, message, use, module))
        elif others:
            first = others[0]
            message = (
                f"used spec '{use.path}' has {_plural(len(others), 'error')}, the first at "
                f"line {first.span.line}: {first.message} [{first.code}]"
            )
            found.append(_use_diag(Code.USE_HAS_ERRORS, message, use, module))
        if used.module is not None:
            for func in used.module.funcs:
                if func.name in declared_by and declared_by[func.name] != use:
                    found.append(_function_clash(module, func.name, declared_by[func.name], use))
                extra.setdefault(func.name, func)
                declared_by.setdefault(func.name, use)
            for typedef in used.module.types:
                # Its columns, for M014, where they are in a CSV file (its own errors
                # are the used spec's, M036).
                types.append((use, _fill_csv_type(typedef, target.parent, use.path)[0]))
    return extra, types, found


def _function_clash(module: Module, name: str, first: Use, later: Use) -> Diagnostic:
    """M054: two used specs declare `name`; the first `# use`'s is the one examples call
    and the generated module imports (`build.uses.module_imports`)."""
    message = f"used specs '{first.path}' and '{later.path}' both declare function '{name}'"
    hint = f"examples and the generated code call the one of '{first.path}', the first `# use`"
    return report(module.path, Code.USED_FUNCTION_CLASH, message, later.span, f"{hint}: rename one")


def _missing(spec: SpecFile) -> bool:
    return isinstance(spec.error, FileNotFoundError | NotADirectoryError)


def _use_diag(code: Code, message: str, use: Use, module: Module) -> Diagnostic:
    hint = {
        Code.USE_UNREADABLE: "the path is relative to this spec's folder",
        Code.CIRCULAR_USE: "specs may not use each other in a circle; move the shared functions "
        "into a third spec",
        Code.USE_HAS_ERRORS: f"run `marshalike parse {use.path}` to see them",
    }[code]
    return Diagnostic("error", code, message, use.span, module.path, hint)


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path, folder)).as_posix()


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
