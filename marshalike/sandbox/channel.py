"""The verdict channel: calls go into a sandboxed process, plain values come back out.

The process that imports model-written code is told only what to call (`add(1, 2)`), one
call at a time, each with a fresh random id; it answers with what the call returned or
raised, encoded as plain tagged data, and the next call is sent only after that answer.
It never sees an expected value, a test, the spec or whether a call is an example or a
probe input (the modules it is given lose their docstrings, which list the examples:
`docstrings`): every run — examples, probe inputs, expected values — goes through the same
runner. Expected values are computed by a module without model-written code
(`expected`), so nothing the code under test runs reaches them. Whatever the code
under test does inside its process (patch the runner, write extra lines, fork, exit), what
reaches the verifier is at most one answer per call, and an answer is only ever a value:
forging one means knowing the right value.

Values are rebuilt from the tags alone — never unpickled, never an object of the
candidate's — and compared by exact type and value (`values.same`): `True` is not `1`, an
`int` subclass is not an `int`, a float matches within a stated tolerance, NaN equals
nothing.
An answer that is missing, malformed, late or has the wrong id fails that call; a process
that exits or is killed fails the call it was on, and a fresh process takes the rest.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from marshalike.language.calls import KNOWN_CLASSES
from marshalike.language.exceptions import RUN_ON_IMPORT, exception_class, is_standard
from marshalike.language.naming import parse_or_none
from marshalike.sandbox import scripts
from marshalike.sandbox.child import Child
from marshalike.sandbox.docstrings import without_docstrings
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.values import (
    FACTORIES,
    Plain,
    as_text,
    clean,
    dict_kind,
    well_formed,
)

# The longest answer line read back: a value longer than this comes back as "too large"
# (the runner writes so), and a longer line is no answer. Every answer of a session is
# held until it ends, as Python objects many times the line's size.
ANSWER_BYTES = 1_000_000
GRACE_S = 2.0  # on top of a call's own timeout, before the process is killed
SHORT_GRACE_S = 0.25  # the same, where a shorter limit than the process's alarm applies


@dataclass(frozen=True)
class Raised:
    type: str  # the exception class's qualified name (`ValueError`, `MyError`)
    module: str  # its module (`builtins` for the built-in ones)
    lineage: tuple[str, ...]  # "module.qualname" of each class it derives from, itself first
    message: str
    traceback: str
    # The UTF-8 columns, in the call's text (as `eval` strips it), of what ran there when
    # the error left it: the whole call, or an argument (`half(6)` of `half(half(6))`).
    at: tuple[int, int] | None = None

    @property
    def identity(self) -> tuple[str, str, tuple[str, ...], tuple[int, int] | None]:
        """Which class it is (its name, its module and its lineage), and where it left
        the call's text."""
        return self.type, self.module, self.lineage, self.at

    def left(self, call: str) -> bool:
        """Whether it came out of the call itself, not out of computing an argument
        (`half(half(6)) raises ValueError` where `half(6)` raised it): the test of an
        example that expects an error computes its arguments before it waits for one."""
        tree = parse_or_none(call.lstrip(" \t"))
        if not isinstance(tree, ast.Expression) or not isinstance(tree.body, ast.Call):
            return True
        return self.at == (tree.body.col_offset, tree.body.end_col_offset)

    def is_a(self, name: str) -> bool:
        """Whether it is an instance of the exception the spec names, as `except` has it:
        a built-in one (`ValueError`, `IOError` for `OSError`; `Exception` for "throws an
        error"), a standard library one by its dotted name (`json.JSONDecodeError`,
        `queue.Empty`, which is `_queue.Empty`), or, for a name neither knows, any ordinary
        error (as the generated test file checks it). The class named is found here, in
        the compiler; the runner names built-in classes, and the standard library's the
        spec's examples name, by identity, taken before the module under test is
        imported (`exceptions` of `run_calls`)."""
        found = exception_class(name)
        if found is None:
            # A dotted name of the standard library's that names no exception: nothing is
            # one (`pytest.raises(json.DecodeError)` fails too). Any other name (the spec's
            # own, `raises AgeError`): an ordinary error whose class, or a base, is called
            # so (`named_error`), not whatever the code raises (a ZeroDivisionError).
            return (
                not is_standard(name)
                and "builtins.Exception" in self.lineage
                and any(named_error(entry, name) for entry in self.lineage)
            )
        bases = {
            f"builtins.{b.__name__}"
            for b in found.__mro__
            if b.__module__ == "builtins" and issubclass(b, BaseException)
        }
        own = f"{found.__module__}.{found.__qualname__}"
        return own in self.lineage and bases <= set(self.lineage)


def named_error(entry: str, name: str) -> bool:
    """Whether a class of a raised error's lineage (`module.Qualname`) is called as the
    last part of the name a spec gives it, as the generated test file reads a class's
    qualified name: `wallet.withdraw.<locals>.AgeError` is an `AgeError`."""
    return entry.rpartition(".")[2] == name.rpartition(".")[2]


def preloaded(module_name: str) -> str | None:
    """Why the module under test cannot be called `module_name`: every sandboxed run has
    imported a module of that name before it (at Python's start-up, or the runner's own),
    and `import NAME` finds that one. (Another module of the standard library is found
    after the folder's own.)"""
    if module_name not in sys.stdlib_module_names and module_name not in sys.builtin_module_names:
        return None
    if module_name not in _preloaded_modules():
        return None
    return (
        f"{module_name} is a module of Python's standard library that every run has imported "
        f"before the generated {module_name}.py, so `import {module_name}` would not find it: "
        "rename the spec"
    )


@functools.cache
def _preloaded_modules() -> frozenset[str]:
    """The modules a sandboxed run has imported before the module under test."""
    tree = ast.parse(scripts.runner())
    names = [a.name for node in tree.body if isinstance(node, ast.Import) for a in node.names]
    code = f"import sys\nimport {', '.join(names)}\nprint(' '.join(sys.modules))"
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset(sys.builtin_module_names)
    return frozenset(done.stdout.split()) | frozenset(sys.builtin_module_names)


@dataclass(frozen=True)
class Answer:
    """What one call did, as the verifier saw it."""

    kind: str  # "returned", "raised", "timeout", "died" (no answer: the process ended)
    value: Plain | None = None
    raised: Raised | None = None
    detail: str = ""  # for "died": why there was no answer

    def same_as(self, other: Answer) -> bool:
        """Whether another answer to the same call says exactly the same: the same value
        of the same types (`exact`: 10 is not 10.0, a set is not a frozenset, a float is
        the same float to the last bit, and NaN is NaN), an exception of the same class
        (its message may differ: `pytest.raises` reads only the class), or the same end.
        The generated test file judges whatever its own process gives, so any difference
        at all can change its verdict."""
        if self.value is not None and other.value is not None:
            return exact(self.value) == exact(other.value)
        if self.raised is not None and other.raised is not None:
            return self.raised.identity == other.raised.identity
        return self.kind == other.kind


def exact(value: Plain) -> str:
    """A text of a tagged value that two values share only where they are the same value
    of the same types: every tag and text as it came (a float by its hex digits), with
    only the order of a set's members and of a dict's items (but an OrderedDict's, whose
    order counts) made fixed, as it is no part of their value and may differ from one
    process to the next (strings hash differently in each)."""
    return as_text(_exact(value))


def _exact(value: Plain) -> Plain:
    tag = value[0]
    if tag in ("list", "tuple"):
        return [tag, [_exact(x) for x in value[1]]]
    if tag in ("set", "frozenset"):
        return [tag, sorted(as_text(_exact(x)) for x in value[1])]
    if tag == "dict":
        items = [[_exact(k), _exact(v)] for k, v in value[1]]
        if dict_kind(value) != "collections.OrderedDict":
            items.sort(key=as_text)
        return [tag, items, *value[2:]]
    if tag == "record":
        return [tag, value[1], [[field, _exact(v)] for field, v in value[2]]]
    return value


def run_calls(
    module_source: str,
    calls: Sequence[str],
    *,
    module_name: str,
    limits: Limits,
    per_call_s: float,
    records: Sequence[str] = (),
    extra_files: Mapping[str, str] | None = None,
    keep_docstrings: bool = False,
    exceptions: Sequence[str] = (),
    names: Sequence[str] | None = None,
    imported: Mapping[str, str] | None = None,
    watched: Sequence[str] = (),
) -> tuple[tuple[Answer, ...], str | None]:
    """Run each call against the module in a sandboxed process, one at a time; the
    answers in order, and the import error (a one-line text) if the module cannot be
    imported (every call then "died").

    `records` names the classes (`module.Qualname`) whose instances come back as records:
    the spec's declared types, taken by identity once the module is imported (a class of
    the candidate's that only borrows the name is an "object"). A call that gets no answer
    in time kills the process; the calls after it run in a fresh one.

    The modules lose their docstrings (`docstrings.without_docstrings`) unless
    `keep_docstrings`: for a user's own code run as it is (decompiling), never for code
    under judgement.

    `exceptions` are the standard library's exceptions (`json.JSONDecodeError`) the
    runner takes by identity before the module is imported, for `Raised.is_a`: the same
    for every run of an oracle, so they tell nothing of which call is which.

    `names` are the module's names a call may read, as the generated tests import them
    (the spec's functions and types); any other name in a call is a builtin or a standard
    library module, taken before the module is imported. None (a user's own module, run
    as it is): every name of the module. `imported` maps those of them a used spec
    defines to its module, where the generated tests import them from: a call reads them
    there, not as the module under test may have bound them.

    `watched` are other texts the generated tests evaluate in the process of the calls
    (expected values): the standard library modules they name, as the calls', are taken
    before the module is imported and must be left as they were."""
    files = {**(extra_files or {}), f"{module_name}.py": module_source}
    if not keep_docstrings:
        files = {n: without_docstrings(t) if n.endswith(".py") else t for n, t in files.items()}
    fixed = {
        "records": list(records),
        "exceptions": sorted(exceptions),
        "names": None if names is None else list(names),
        "imported": dict(imported or {}),
        "modules": sorted(modules_named((*calls, *watched))),
        "classes": classes_named((*calls, *watched)),
        "factories": list(FACTORIES),
        "never_import": sorted(RUN_ON_IMPORT),
    }
    answers: list[Answer] = []
    while len(answers) < len(calls):
        result, import_error = _session(
            files, calls[len(answers) :], module_name, limits, per_call_s, fixed
        )
        if import_error is not None:
            dead = Answer("died", detail=import_error)
            return tuple(answers + [dead] * (len(calls) - len(answers))), import_error
        answers.extend(result)
    return tuple(answers), None


def called_names(calls: Sequence[str], module_name: str, records: Sequence[str]) -> list[str]:
    """The module's names calls read, where they were made from the spec's functions and
    types (probe inputs): the function each call makes (a spec's `sum` is called as
    itself), the module's record types, and any other name that is neither a builtin nor
    a standard library module."""
    names = {r.rpartition(".")[2] for r in records if r.startswith(f"{module_name}.")}
    for call in calls:
        try:
            called = ast.parse(call.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if isinstance(called, ast.Call) and isinstance(called.func, ast.Name):
            names.add(called.func.id)
        for node in ast.walk(called):
            name = node.id if isinstance(node, ast.Name) else ""
            if name and not hasattr(builtins, name) and name not in sys.stdlib_module_names:
                names.add(name)
    return sorted(names)


def _session(
    files: Mapping[str, str],
    calls: Sequence[str],
    module_name: str,
    limits: Limits,
    per_call_s: float,
    fixed: Mapping[str, object],
) -> tuple[list[Answer], str | None]:
    """One process: answers to a prefix of `calls` (at least one), or an import error.
    `fixed` is what the runner is told the same way for every process of the calls."""
    hello = secrets.token_hex(16)
    config = {
        "module": module_name,
        "hello": hello,
        "import_timeout": limits.startup_s,
        "answer_bytes": ANSWER_BYTES,
        "local": [name[:-3] for name in files if name.endswith(".py")],
        **fixed,
    }
    cpu = limits.startup_s + (limits.timeout_s + GRACE_S) * len(calls)
    # Every run's alarm is the same (`limits.timeout_s`), so nothing in the process tells a
    # probe (a shorter limit) from an example: a shorter limit is kept from outside.
    wait = per_call_s + (GRACE_S if per_call_s >= limits.timeout_s else SHORT_GRACE_S)
    answers: list[Answer] = []
    with Child(
        ["-c", scripts.runner(), json.dumps(config)],
        files=files,
        limits=limits,
        cpu_seconds=cpu,
    ) as child:
        first = _read(child, hello, time.monotonic() + limits.startup_s + GRACE_S)
        if first is None or not first.get("ready"):
            if first is not None and isinstance(first.get("import_error"), dict):
                return [], _import_error(first["import_error"])
            return [], "the module could not be imported: " + _ended(child, limits)
        for call in calls:
            ident = secrets.token_hex(16)
            deadline = time.monotonic() + wait
            sent = child.send({"id": ident, "call": call, "timeout": limits.timeout_s}, deadline)
            record = _read(child, ident, deadline) if sent else None
            answer = _answer(record) if record is not None else None
            if answer is None:
                late = child.returncode is None
                answers.append(
                    Answer("timeout") if late and time.monotonic() >= deadline
                    else Answer("died", detail=_ended(child, limits))
                )  # fmt: skip
                return answers, None
            answers.append(answer)
    return answers, None


def _read(child: Child, ident: str, deadline: float) -> dict | None:
    """The answer with this id; None if the next line is anything else, or none comes."""
    line = child.receive(deadline, ANSWER_BYTES)
    if line is None:
        return None
    try:  # lone surrogates come as themselves (the runner's `send`), never merged in pairs
        record = json.loads(line.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(record, dict) or record.get("id") != ident:
        return None
    return record


def _answer(record: dict) -> Answer | None:
    """The answer a record holds; None for anything malformed (a forged or broken answer
    fails its call, it never stops the verifier)."""
    try:
        return _read_answer(record)
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError, MemoryError):
        return None


def _read_answer(record: dict) -> Answer | None:
    if record.get("timeout") is True:
        return Answer("timeout")
    if "returned" in record:
        value = record["returned"]
        return Answer("returned", value=value) if well_formed(value) else None
    raised = record.get("raised")
    if isinstance(raised, dict):
        return Answer("raised", raised=_raised(raised))
    died = record.get("died")
    if isinstance(died, dict):  # the call's own process ended without answering
        return Answer("died", detail=_died(died))
    return None


def _died(data: dict) -> str:
    if isinstance(data.get("signal"), int):
        return _end_text(-data["signal"], "")
    if isinstance(data.get("status"), int):
        return _end_text(data["status"], "")
    return clean(str(data.get("reason", "the call's process could not start"))[:300])


def _raised(data: dict) -> Raised:
    tail = data.get("traceback", [])
    return Raised(
        type=clean(str(data["type"])[:200]),
        module=clean(str(data["module"])[:200]),
        lineage=tuple(clean(str(m)[:300]) for m in data["mro"])[:64],
        message=clean(str(data.get("message", ""))[:2000]),
        traceback=clean("\n".join(str(t) for t in tail[-8:])) if isinstance(tail, list) else "",
        at=_columns(data.get("at")),
    )


def _columns(data: object) -> tuple[int, int] | None:
    if isinstance(data, list) and len(data) == 2 and all(type(n) is int for n in data):
        return data[0], data[1]
    return None


def _import_error(data: dict) -> str:
    try:
        raised = _raised(data)
    except (TypeError, ValueError, KeyError, OverflowError):
        return "the module could not be imported"
    lines = "\n".join(raised.traceback.splitlines()[-6:])
    return f"the module could not be imported: {raised.type}: {raised.message}\n{lines}".strip()


def _ended(child: Child, limits: Limits) -> str:
    child.wait(0.5)
    code = child.returncode
    return _end_text(code, clean(child.stderr(2000)))


def _end_text(code: int | None, stderr: str) -> str:
    """How a process ended (its exit status, or -N for signal N; None: it still runs),
    with the last lines of its error output."""
    tail = stderr.strip().splitlines()[-4:]
    said = ("\n" + "\n".join(tail)) if tail else ""
    if code is None:
        return "it gave no answer" + said
    if code < 0:
        return (
            f"the process was killed by signal {-code} "
            "(a resource limit: memory, CPU time or file size)" + said
        )
    return f"the process ended (exit status {code}) instead of answering" + said


def modules_named(texts: Sequence[str]) -> set[str]:
    """The standard library modules the texts (calls, expected values) may name: every word
    of theirs that is one (a word in a string literal too: one more module taken)."""
    return _words(texts) & sys.stdlib_module_names


def classes_named(texts: Sequence[str]) -> dict[str, str]:
    """The standard value types the texts may build by their own names (`Decimal('1')`),
    each with its module, as the generated tests import them."""
    return {name: KNOWN_CLASSES[name] for name in sorted(_words(texts) & KNOWN_CLASSES.keys())}


def _words(texts: Sequence[str]) -> set[str]:
    return {n for text in texts for n in re.findall(r"[A-Za-z_]\w*", text)}
