"""CI mode: is every spec's generated code current, untouched and passing? No model calls.

For each spec: the spec must parse and check clean; its lock must exist and record the
spec's current hash; NAME.py and test_NAME.py must exist with the hashes the lock recorded
(a hand edit shows up as a mismatch, unless the marker of an interrupted write says the
files were left out of step by a crash), and so must `_marshalike_main.py`, the command
line's support module, where the module has a command line; the generated modules of the
specs it uses, at any depth, must be in the same folder; and the generated tests must
pass, run in the sandbox beside those modules, by the verifier and under plain pytest.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from marshalike.build.lock import Lock, LockError, lock_path, read_lock
from marshalike.build.output import (
    NotRegularFile,
    file_hash,
    interrupted,
    marker_file,
    name_problem,
    not_regular,
    read_output,
    read_regular,
)
from marshalike.build.shadows import hides_installed, shadow, stranger
from marshalike.build.uses import (
    Absent,
    declared_records,
    direct_types,
    generated_modules,
    module_imports,
)
from marshalike.codegen import emit
from marshalike.codegen.module_main import (
    SUPPORT_FILE,
    SUPPORT_MODULE,
    append_main,
    support_source,
)
from marshalike.codegen.stamp import plain_newlines
from marshalike.errors import MarshalikeError
from marshalike.gate.questions import Question
from marshalike.gate.strength import Strength
from marshalike.language.diagnostics import Diagnostic, Span
from marshalike.language.graph import SpecGraph
from marshalike.language.load import load_spec
from marshalike.language.spec import Module
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.under_pytest import pytest_failure
from marshalike.sandbox.verify import DEFAULT_LIMITS, ExampleResult, verify_module
from marshalike.synth import verdict_text
from marshalike.synth.extract import refusal

_TOP = Span(1, 1, 1, 2)


@dataclass(frozen=True)
class Finding:
    """One reason a spec fails the check, located in a file when we can."""

    kind: str  # spec-error | stale | missing | malformed | edited | interrupted | test-failed
    message: str
    path: str
    line: int = 1
    column: int = 1
    # A test-failed finding's generated test (test_NAME_INDEX) and its status (fail, error,
    # timeout, not_run), so reports need not read them back out of the message.
    test: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class SpecCheck:
    path: str
    source: str
    diagnostics: tuple[Diagnostic, ...] = ()
    findings: tuple[Finding, ...] = ()
    tests: tuple[ExampleResult, ...] = field(default_factory=tuple)
    # Per function, the questions its lock records: inputs its examples leave open.
    questions: Mapping[str, tuple[Question, ...]] = field(default_factory=dict)
    # Per function, how many small variants of its code its examples rule out.
    strength: Mapping[str, Strength] = field(default_factory=dict)
    # Where its tests passed: the test file's path, and the files they ran with (the
    # module, its tests, the modules they import), for the folder's run (`together`).
    tests_file: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings


def check_spec(
    path: Path,
    *,
    out: Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
    graph: SpecGraph | None = None,
) -> SpecCheck:
    """Check one spec's outputs. The spec and the specs it uses are read through `graph`
    (a new one when None), which keeps them for the next spec of the run."""
    graph = graph or SpecGraph()
    loaded = load_spec(path, graph)
    display = str(path)
    if loaded.module is None or loaded.has_errors:
        errors = [d for d in loaded.diagnostics if d.is_error]
        findings = tuple(
            Finding("spec-error", d.message, d.path, d.span.line, d.span.column) for d in errors
        )
        return SpecCheck(display, loaded.source, loaded.diagnostics, findings)
    module = loaded.module
    folder = out or path.parent
    if (named := name_problem(module.name) or hides_installed(folder, module.name)) is not None:
        return _only(display, loaded.source, "spec-error", named)
    lock_file = lock_path(folder, module.name)
    if interrupted(folder, module.name):
        # A crash between the files: a mismatch here is not a hand edit.
        message = (
            f"an interrupted write left the outputs of {path.name} in {folder} out of step "
            f"({marker_file(folder, module.name).name} is still there): recompile the spec"
        )
        return _only(display, loaded.source, "interrupted", message)
    if not lock_file.exists():
        return _only(display, loaded.source, "missing", f"{lock_file} is missing: compile the spec")
    if (odd := not_regular(lock_file)) is not None:
        message = f"{lock_file} is not a regular file ({odd}): move it, and compile the spec"
        return _only(display, loaded.source, "missing", message)
    try:
        lock = read_lock(lock_file, path.name)
    except LockError as exc:  # this spec's finding: the other specs are still checked
        return _only(display, loaded.source, "malformed", str(exc))
    found: list[Finding] = []
    if lock.spec_hash != (current := emit.spec_hash(loaded.source)):
        attempt = _read(folder / f"{module.name}.failed.py") or ""
        message = (
            f"the last compile of the spec failed (its best attempt is in {module.name}"
            ".failed.py), so the outputs are from an earlier version of it: fix the spec or "
            "its examples and compile it"
            if f"# spec-hash: {current}\n" in attempt
            else "the spec changed since it was compiled: recompile it"
        )
        found.append(Finding("stale", message, display))
    texts = {}
    for name in (f"{module.name}.py", f"test_{module.name}.py"):
        texts[name], more = _output_findings(folder / name, lock.outputs.get(name))
        found.extend(more)
    module_text = texts[f"{module.name}.py"] or ""
    if SUPPORT_FILE in lock.outputs or f"import {SUPPORT_MODULE}\n" in module_text:
        # The command line's support module, shared by the folder's modules.
        texts[SUPPORT_FILE], more = _output_findings(
            folder / SUPPORT_FILE, lock.outputs.get(SUPPORT_FILE)
        )
        found.extend(more)
    used, absent = generated_modules(graph, path, folder)
    found.extend(_absent_finding(a, display) for a in absent)
    found.extend(_used_findings(graph, path, folder, display) if not absent else [])
    # What `import NAME` runs there must be NAME.py: not a package, an extension module or
    # bytecode of other code found before it.
    names = [module.name, *(name.removesuffix(".py") for name in sorted(used))]
    names += [SUPPORT_MODULE] if SUPPORT_FILE in texts else []
    for name in names:
        if (why := shadow(folder, name)) is not None:
            found.append(Finding("edited", f"{why}; then check again", str(folder / name)))
    if (why := stranger(folder, names)) is not None:
        found.append(Finding("edited", f"{why}; then check again", str(folder)))
    if found:
        return SpecCheck(display, loaded.source, loaded.diagnostics, tuple(found))
    imports = _imports(graph, path)
    # A lock and a module rewritten to agree pass the hashes: the module must also be what
    # the lock's code makes, and that code must pass the checks a model's code passes.
    module_file = folder / f"{module.name}.py"
    if (why := _not_from_lock(module, lock, module_text, imports, path)) is not None:
        finding = Finding("edited", f"{module_file} {why}; recompile the spec", str(module_file))
        written = _written_imports(module_text, imports)
        if written != imports and _not_from_lock(module, lock, module_text, written, path) is None:
            # What the lock's code makes with the names a used spec had: that spec changed.
            said = f"{module_file} imports what a spec it uses had when it was compiled, and "
            said += "that spec has changed since: recompile the spec"
            finding = Finding("stale", said, display)
        return SpecCheck(display, loaded.source, loaded.diagnostics, (finding,))
    # So must the test file and the support module: a hash in the lock proves nothing, the
    # lock being as easy to rewrite as they are, and both run wherever the tests run.
    types = direct_types(graph, path)
    made = _made_outputs(module, lock, path, folder, imports)
    for name, allowed in made.items():
        text = texts.get(name) if name in texts else _read(folder / name)
        if text is not None and text not in allowed:
            said = f"{folder / name} is not what the compiler writes for the spec (edited by "
            said += "hand, the lock edited, or written by another version of marshalike); "
            said += "recompile the spec"
            finding = Finding("edited", said, str(folder / name))
            return SpecCheck(display, loaded.source, loaded.diagnostics, (finding,))
    # The examples run against the module in the sandbox the way a compile verifies code
    # (code taken from a lock included), not by trusting the test file beside it.
    verdict = verify_module(
        module,
        texts[module_file.name] or "",
        module_name=module.name,
        limits=limits,
        extra_files=used,
        uses=_functions(graph, path),
        used_records=declared_records(graph, path),
        used_types=types,
    )
    tests_name = f"test_{module.name}.py"
    tests_file = str(folder / tests_name)
    failed = tuple(
        _test_finding(r, module, tests_file, limits) for r in verdict.results if r.status != "pass"
    )
    # And the test file must not fail as its users run it (fail-only: `under_pytest`).
    read = {name: text for name, text in texts.items() if text is not None}
    if not failed and (failure := pytest_failure({**used, **read}, tests_name, limits)):
        said = f"fails under pytest ({failure}), though the verifier passed every example"
        failed = (Finding("test-failed", said, tests_file, status="fail"),)
    units = sorted(lock.units.items())
    asked = {name: unit.questions for name, unit in units if unit.questions}
    strength = {name: unit.strength for name, unit in units if unit.strength is not None}
    ran = {} if failed else {**used, **read}
    return SpecCheck(display, loaded.source, loaded.diagnostics, failed, verdict.results,
                     asked, strength, tests_file, ran)  # fmt: skip


def _not_from_lock(
    module: Module, lock: Lock, text: str, imports: dict[str, tuple[str, ...]], path: Path
) -> str | None:
    """Why `text` is not the module compile writes from the lock's code, or why that code
    would be refused (`extract.refusal`); None when it is and would not."""
    code = {name: unit.code for name, unit in lock.units.items() if module.func(name)}
    made = emit.module_source(
        module, code, spec_name=path.name, spec_hash=lock.spec_hash, uses=imports, lint=lock.lint
    )
    if text not in (made, append_main(made, module)):
        return "is not what the code in the lock makes (edited by hand, or the lock was)"
    known = {t.name for t in module.types} | {f.name for f in module.funcs}
    known |= {name for names in imports.values() for name in names}
    for name, unit in sorted(lock.units.items()):
        func = module.func(name)
        if func is None or not unit.code:  # whatever status the lock claims for it
            continue
        why = refusal(unit.code, func, known, local_modules=tuple(imports))
        if why is not None:
            return f"holds code for {name} that the compiler refuses: {why}"
    return None


def _made_outputs(
    module: Module, lock: Lock, path: Path, folder: Path, imports: Mapping[str, tuple[str, ...]]
) -> dict[str, set[str]]:
    """The texts compile may have written for the test file (with the ruff suppressions it
    finds, or none where ruff could not run), which imports from the used modules what
    `imports` has (`uses.module_imports`), and for the support module."""
    tests_file = folder / f"test_{module.name}.py"
    plain, linted = emit.test_sources(
        module, spec_name=path.name, spec_hash=lock.spec_hash, uses=imports, at=tests_file
    )
    return {tests_file.name: {plain, linted}, SUPPORT_FILE: {support_source()}}


def _imports(graph: SpecGraph, path: Path) -> dict[str, tuple[str, ...]]:
    """What the generated module imports from each spec it uses directly, as compile had it
    (a used spec that cannot be read is already a finding, so it is never reached here):
    its functions, and its types the examples build (`uses.module_imports`)."""
    module = graph.file(path).module
    imports = _functions(graph, path)
    return imports if module is None else module_imports(module, imports, direct_types(graph, path))


def _functions(graph: SpecGraph, path: Path) -> dict[str, tuple[str, ...]]:
    """The functions of each spec the spec at `path` uses directly, by its module."""
    imports = {}
    for target in graph.uses(path):
        used = graph.file(target).module
        if used is not None:
            imports[used.name] = tuple(f.name for f in used.funcs)
    return imports


def _used_findings(graph: SpecGraph, path: Path, folder: Path, display: str) -> list[Finding]:
    """The spec's tests run with the modules of the specs it uses, whose code a model wrote
    too: each must be what its own lock makes, whether or not this run checks its spec. A
    used spec with no lock, or changed since its lock, holds its module to nothing: that
    is a finding of this spec too (it is stale, not edited)."""
    found = []
    for reached in graph.reached(path):
        used = graph.file(reached.path).module
        module_file = folder / f"{used.name}.py" if used is not None else None
        text = _read(module_file) if module_file is not None else None
        if used is None or module_file is None or text is None:
            continue  # an absent finding already
        used_lock = lock_path(folder, used.name)
        if not used_lock.exists() and not used_lock.is_symlink():
            said = f"{module_file}, the module of the used spec {reached.path.name}, has no "
            said += f"lock ({used_lock} is missing), so nothing holds it: compile that spec"
            found.append(Finding("stale", said, display))
            continue
        try:
            if (odd := not_regular(used_lock)) is not None:
                raise MarshalikeError(f"has a lock {used_lock} that is not a regular file ({odd})")
            lock = read_lock(used_lock, reached.path.name)
        except MarshalikeError as exc:
            lock, why = None, str(exc)
        if lock is not None and lock.spec_hash != emit.spec_hash(graph.file(reached.path).source):
            said = f"the used spec {reached.path.name} changed since it was compiled, so its "
            said += f"module {module_file} is not held to it: recompile that spec"
            found.append(Finding("stale", said, display))
            continue
        if lock is not None:
            imports = _imports(graph, reached.path)
            why = _not_from_lock(used, lock, text, imports, reached.path) or ""
        if why:
            said = f"{module_file}, the module of the used spec {reached.path.name}, {why}"
            found.append(Finding("edited", f"{said}; recompile that spec", display))
    return found


def _written_imports(
    text: str, imports: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """What `text` imports from each used spec's module, at its top level."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    written: dict[str, list[str]] = {name: [] for name in imports}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and not node.level and node.module in written:
            written[node.module] += [alias.name for alias in node.names]
    return {name: tuple(names) for name, names in written.items()}


def _only(path: str, source: str, kind: str, message: str) -> SpecCheck:
    return SpecCheck(path, source, findings=(Finding(kind, message, path),))


def _read(path: Path) -> str | None:
    """The UTF-8 text of the regular file at `path`, its line endings made `\n`; None
    where there is none (a FIFO or a folder is never read: see `read_output`)."""
    text = read_output(path)
    return text if isinstance(text, str) else None


def _output_findings(path: Path, recorded: str | None) -> tuple[str | None, list[Finding]]:
    """An output's text (None where it cannot be read) and what is wrong with it."""
    edited = (
        f"{path} was edited by hand (it no longer matches the lock); move the edits to the "
        "spec, then move the file away or delete it, and recompile"
    )
    try:
        raw = read_regular(path)
    except NotRegularFile:
        odd = not_regular(path) or "a folder"
        said = f"{path} is not a regular file ({odd}): move it, and compile the spec"
        return None, [Finding("missing", said, str(path))]
    except OSError as exc:
        said = f"{path} cannot be read ({exc.strerror or type(exc).__name__})"
        return None, [Finding("missing", said, str(path))]
    if raw is None:
        return None, [Finding("missing", f"{path} is missing: compile the spec", str(path))]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        said = f"{path} is not UTF-8 text, so it was edited by hand (marshalike writes UTF-8); "
        said += "move the edits to the spec, then move the file away or delete it, and recompile"
        return None, [Finding("edited", said, str(path))]
    text = plain_newlines(text)
    if recorded is None or file_hash(text) != recorded:
        return text, [Finding("edited", edited, str(path))]
    return text, []


def _absent_finding(absent: Absent, spec: str) -> Finding:
    """Located at the checked spec's own `# use` line the absent spec is reached through."""
    if absent.module is None:
        message = f"the used spec {absent.spec} cannot be read or parsed"
    else:
        message = (
            f"{absent.module} is missing: compile the used spec {absent.spec} "
            "(the generated tests import its module from this folder)"
        )
    span = absent.use.span
    return Finding("missing", message, spec, span.line, span.column)


def _test_finding(
    result: ExampleResult, module: Module, tests_file: str, limits: Limits
) -> Finding:
    func = module.func(result.func) if result.func else None
    said = verdict_text.describe(result, func, limits.timeout_s) or result.status
    return Finding(
        "test-failed",
        f"{result.test}: {said}",
        tests_file,
        test=result.test,
        status=result.status,
    )
