"""Promises of a function's description that code must show some sign of keeping, checked
without running it: part of the loop's probe gate (`overfit.static_sign`).

One promise so far, the one examples rarely pin down: a description that says case does
not matter ("ignoring the difference between upper and lower case", "case-insensitive",
"without regard to case", "vowels in upper or lower case") promises code that changes case,
matches without it (`lower`, `casefold`, `re.IGNORECASE`, ...) or spells both cases out
(`'aeiouAEIOU'`, `'a' <= c <= 'z' or 'A' <= c <= 'Z'`). Examples shown in lower case
alone pass code that compares verbatim. Code that calls a function it does not define (a
helper of the spec, say) may keep the promise there, so it is given the benefit of the
doubt.
"""

from __future__ import annotations

import ast
import re
import sys

from marshalike.language.naming import BUILTIN_NAMES, parse_or_none
from marshalike.language.spec import Func

_CASE_BLIND = re.compile(
    r"\b(?:ignor\w*|regardless\s+of|without\s+regard\s+to|irrespective\s+of|disregard\w*)"
    r"\b[^.;:]{0,40}?\bcase\b"
    r"|\bcase[- ]insensitiv\w*"
    r"|\b(?:upper|lower)[\s-]+(?:case\s+)?(?:or|and)\s+(?:upper|lower)[\s-]*case\b",
    re.IGNORECASE,
)
# "it does not ignore case", "never regardless of case": the opposite promise.
_NEGATION = re.compile(r"(?:\bnot|\bnever|n't|\bno longer)\s+(?:\w+\s+)?$", re.IGNORECASE)
# Names and attributes by which code changes case or matches without it.
_CASE_WORDS = frozenset(
    {"lower", "upper", "casefold", "swapcase", "capitalize", "title", "islower", "isupper",
     "IGNORECASE", "I", "ascii_lowercase", "ascii_uppercase", "ascii_letters"}
)  # fmt: skip


def case_blind(description: str) -> bool:
    """Whether the description says upper and lower case do not matter."""
    for match in _CASE_BLIND.finditer(description):
        if not _NEGATION.search(description[max(0, match.start() - 20) : match.start()]):
            return True
    return False


def unkept(code: str, func: Func) -> str | None:
    """Why `code` cannot keep a promise of `func`'s description, as "the description says
    case does not matter, and the code never changes case"; None when it may keep them all
    (or is not Python, which other checks report)."""
    if not case_blind(func.description):
        return None
    tree = parse_or_none(code, mode="exec")
    if tree is None or _calls_unknown(tree) or _words(tree) & _CASE_WORDS:
        return None
    if _both_cases("".join(_strings(tree))):
        return None  # `c in 'aeiouAEIOU'`, `{'I': 1, 'i': 1}` spell the cases out
    return "the description says case does not matter, and the code never changes case"


def _strings(tree: ast.AST) -> list[str]:
    """The code's string constants, less docstrings and other bare string statements."""
    bare = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in bare
    ]


def _both_cases(text: str) -> bool:
    """Whether the text holds some letter in upper and in lower case."""
    return any(c.islower() and c.upper() in text for c in text)


def _words(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name)
    return names


def _calls_unknown(tree: ast.AST) -> bool:
    """Whether the code calls, by bare name, a function it neither defines nor gets from
    Python's builtins or standard library: one whose body it cannot see."""
    defined = set(BUILTIN_NAMES)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.ImportFrom) and _standard(node.module):
            defined |= {alias.asname or alias.name for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id not in defined:
                return True
    return False


def _standard(module: str | None) -> bool:
    return module is not None and module.partition(".")[0] in sys.stdlib_module_names
