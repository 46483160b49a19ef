"""Turn the text of an example bullet into an `Example`.

An example is `CALL = EXPECTED`, `CALL == EXPECTED`, `CALL = throws an error`,
`CALL throws an error` or `CALL raises ValueError`. When CALL and EXPECTED are Python
expressions (after JSON-ish literals such as `true` and `null` are rewritten) the example is
checkable and becomes a test; anything else is kept as an informal example for the model.
"""

from __future__ import annotations

import ast
import functools
import keyword
import re
import unicodedata

from marshalike.language.diagnostics import Span
from marshalike.language.spec import Example, Outcome

# A one-line string literal, its prefix included.
STRING_LITERAL = r"""[rRbBuUfF]{0,2}(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
# A string literal (kept as is) or a JSON-ish word outside one (rewritten to Python).
_JSONISH = re.compile(
    rf"""(?P<string>{STRING_LITERAL})"""
    r"""|(?<![\w.])(?P<word>true|false|null|NaN|Infinity)(?!\w)"""
)
_PYTHON_LITERALS = {
    "true": "True",
    "false": "False",
    "null": "None",
    "NaN": "float('nan')",
    "Infinity": "float('inf')",
}
_JSON_WORDS = re.compile(r"true|false|null|NaN|Infinity")

# What the call scanner cares about: string literals, brackets, commas and stray quotes.
_CALL_TOKENS = re.compile(
    r"""[rRbBuUfF]{0,2}(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")|[()\[\]{},'"]"""
)
_OPENERS = "([{"
_CLOSERS = ")]}"
_CALLEE = re.compile(r"[^\W\d][\w.]*")
_RAISES = re.compile(r"(?:throws|raises)\b")
_RAISED_CLASS = re.compile(r"(?:throws|raises)\s+(?:an?\s+)?([^\W\d][\w.]*?)\s*\.?\s*")
_GENERIC_ERRORS = {"error", "exception"}
# Deeper expressions stay informal (and the semantic checker makes them an error): code that
# walks an example's syntax tree recursively, ours or Python's compiler, would otherwise hit
# the recursion limit. A real example nests a few levels.
MAX_EXPRESSION_DEPTH = 100

# (called name, positional argument count, keyword names)
_Shape = tuple[str | None, int | None, tuple[str, ...]]

# The fast path. ast.parse costs tens of microseconds an example, so calls and values built
# only from literals, names, flat lists, dicts and calls of those (`f([P('Joe', 20)], 3)`) are
# recognised by these regexes, which accept nothing that is not a Python expression;
# anything else goes to ast. tests/test_parse_fuzz.py checks both paths agree.
_KEYWORD_LIST = [k for k in keyword.kwlist if k not in ("True", "False", "None")]
_KEYWORDS = "|".join(_KEYWORD_LIST)


def _by_first_letter(words: list[str]) -> str:
    """`a(?:nd|s|...)|b(?:reak)|...`: the regex engine tries one branch a position rather
    than every word, which makes the keyword check on each fast-path match twice as fast."""
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[0], []).append(re.escape(word[1:]))
    return "|".join(
        f"{first}(?:{'|'.join(sorted(rests, key=len, reverse=True))})"
        for first, rests in sorted(groups.items())
    )


# Names may be keywords here: a keyword lookahead inside every name made these patterns
# take most of a second to compile. A match that holds a keyword goes to ast instead.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_KEYWORD_WORD = re.compile(rf"(?<![\w.])(?:{_by_first_letter(_KEYWORD_LIST)})(?!\w)")
_STRING_BODY = r"[^{q}\\\r\n\x00\ud800-\udfff]*"
_ATOM = (
    rf"(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?|'{_STRING_BODY.format(q=chr(39))}'"
    rf"|\"{_STRING_BODY.format(q=chr(34))}\"|{_NAME})"
)
_S = r"[ \t]*"
_ATOMS = rf"(?:{_ATOM}(?:{_S},{_S}{_ATOM})*)?"
_PAIR = rf"{_ATOM}{_S}:{_S}{_ATOM}"
_DICT = rf"\{{{_S}(?:{_PAIR}(?:{_S},{_S}{_PAIR})*)?{_S}\}}"
_ELEMENT = rf"(?:{_NAME}\({_S}{_ATOMS}{_S}\)|{_ATOM}|\[{_S}{_ATOMS}{_S}\]|{_DICT})"
_ELEMENTS = rf"(?:{_ELEMENT}(?:{_S},{_S}{_ELEMENT})*)?"
_ARGUMENT = rf"(?:\[{_S}{_ELEMENTS}{_S}\]|{_ELEMENT})"


@functools.cache
def _fast_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(call, argument, value) patterns, compiled on first use: together they take about a
    quarter of a second to compile, which commands that never parse should not pay."""
    call = re.compile(rf"({_NAME})\({_S}((?:{_ARGUMENT}(?:{_S},{_S}{_ARGUMENT})*)?){_S}\)")
    value = re.compile(rf"{_ARGUMENT}{_S}")  # ast rejects leading blanks
    return call, re.compile(_ARGUMENT), value


def warm_fast_path() -> None:
    """Compile the fast path (about a quarter of a second): it pays for itself on specs of
    thousands of examples; small specs go through `ast` and never pay for it."""
    _fast_patterns()


def _ready_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]] | None:
    return _fast_patterns() if _fast_patterns.cache_info().currsize else None


def normalize(source: str) -> str:
    """Rewrite JSON-ish literals (true, false, null, NaN, Infinity) outside string literals."""
    if _JSON_WORDS.search(source) is None:
        return source
    return _JSONISH.sub(_python_literal, source)


def _python_literal(match: re.Match[str]) -> str:
    word = match.group("word")
    return match.group(0) if word is None else _PYTHON_LITERALS[word]


def parse_example(text: str, span: Span, column: int) -> Example:
    """Build the Example for the bullet content `text`.

    `span` covers the whole bullet, its marker included; `column` is where `text` starts.
    """
    callee = _CALLEE.match(text)
    if callee is None:
        return _informal(text, span, None, None, None, None)
    name = callee.group(0)
    call_span = Span(span.line, column, span.line, column + len(name))
    patterns = _ready_patterns()
    simple = _keyword_free(patterns[0].match(text)) if patterns else None
    if simple is not None:
        return _classify(text, simple.end(), _simple_shape(simple), name, span, call_span)
    scanned = _scan_call(text, len(text) - len(text[callee.end() :].lstrip()))
    if scanned is None:
        return _informal(text, span, call_span, None, None, _bare(name))
    end, commas = scanned
    shape = _call_facts(normalize(text[:end]), commas)
    return _classify(text, end, shape, name, span, call_span)


def _classify(
    text: str, end: int, shape: _Shape | None, name: str, span: Span, call_span: Span | None
) -> Example:
    """Decide the outcome from what follows the call (`= X`, `== X`, `throws ...`).

    `shape` describes the call `text[:end]`, or is None where that is not Python; `name` is
    the callee that `text` starts with.
    """
    call, rest = normalize(text[:end]), text[end:].strip()
    if rest.startswith("=="):
        rest = rest[2:].strip()
    elif rest.startswith("="):
        rest = rest[1:].strip()
    elif _RAISES.match(rest) is None:
        rest = ""
    if shape is None:
        return _informal(text, span, call_span, text[:end], rest or None, _bare(name))
    if _RAISES.match(rest):
        exception = _raised_class(rest)
        if exception is None:
            return _informal(text, span, call_span, call, rest, *shape)
        return _example(text, "raises", call, None, exception, shape, span, call_span)
    expected = normalize(rest)
    if not rest or not is_expression(expected):
        return _informal(text, span, call_span, call, rest or None, *shape)
    return _example(text, "returns", call, expected, None, shape, span, call_span)


def _raised_class(rest: str) -> str | None:
    """`throws an error` -> "Exception"; `raises ValueError` -> "ValueError"; else None."""
    match = _RAISED_CLASS.fullmatch(rest)
    if match is None:
        return None
    # As Python reads a name: `ＶalueError` is `ValueError`.
    word = unicodedata.normalize("NFKC", match.group(1))
    if word.lower() in _GENERIC_ERRORS:
        return "Exception"
    if word[0].isupper() or "." in word:
        return word
    return None


def _example(
    text: str,
    outcome: Outcome,
    call: str,
    expected: str | None,
    exception: str | None,
    shape: _Shape,
    span: Span,
    call_span: Span | None,
) -> Example:
    func, arg_count, keywords = shape
    return Example(
        text=text,
        outcome=outcome,
        call=call,
        expected=expected,
        exception=exception,
        func=func,
        arg_count=arg_count,
        keywords=keywords,
        span=span,
        call_span=call_span,
    )


def _informal(
    text: str,
    span: Span,
    call_span: Span | None,
    call: str | None,
    expected: str | None,
    func: str | None,
    arg_count: int | None = None,
    keywords: tuple[str, ...] = (),
) -> Example:
    """An example kept for the model; call facts are filled in where the call is Python."""
    return Example(
        text=text,
        outcome="informal",
        call=call,
        expected=expected,
        exception=None,
        func=func,
        arg_count=arg_count,
        keywords=keywords,
        span=span,
        call_span=call_span,
    )


def _bare(name: str | None) -> str | None:
    return name if name and "." not in name else None


def _simple_shape(simple: re.Match[str]) -> _Shape:
    """The shape of a call the fast path matched; no argument match can start inside
    another or in a separator, so findall meets each top-level argument once."""
    return simple.group(1), len(_fast_patterns()[1].findall(simple.group(2))), ()


def _call_facts(call: str, commas: int) -> _Shape | None:
    """The shape of `call`, or None where it is not a Python call expression.

    `commas` counts the call's top-level commas, which is all the fast path needs.
    """
    patterns = _ready_patterns()
    simple = _keyword_free(patterns[0].fullmatch(call)) if patterns else None
    if simple is not None:
        return simple.group(1), commas + 1 if simple.group(2) else 0, ()
    node = _parse_expression(call)
    return _call_shape(node) if isinstance(node, ast.Call) else None


def _call_shape(node: ast.Call) -> _Shape:
    """The called name (for `name(...)`), positional count (None with *args), keywords."""
    func = node.func.id if isinstance(node.func, ast.Name) else None
    starred = any(isinstance(arg, ast.Starred) for arg in node.args)
    arg_count = None if starred else len(node.args)
    keywords = tuple(k.arg for k in node.keywords if k.arg is not None)
    return func, arg_count, keywords


@functools.lru_cache(maxsize=4096)
def is_expression(source: str) -> bool:
    """Cached: expected values repeat a lot (`[]`, `0`, `True`) across a spec."""
    patterns = _ready_patterns()
    fast = patterns is not None and _keyword_free(patterns[2].fullmatch(source)) is not None
    return fast or _parse_expression(source) is not None


def answer_problem(text: str, unread: str = "not a Python expression") -> str | None:
    """Why `text` cannot stand after `=` in an example bullet as a Python expression; None
    when it can. It is one line of printable characters (no line or paragraph separator,
    which some readers of the spec split lines at, no bidirectional or zero-width control)
    that reads as an expression; text that does not is `unread` (what the message says
    it is, where a caller takes more than an expression)."""
    if not text:
        return "the answer is empty"
    if not text.isprintable():
        return "an answer is one line of printable characters"
    if not is_expression(text):
        return f"`{text}` is {unread}"
    return None


def _keyword_free(match: re.Match[str] | None) -> re.Match[str] | None:
    """The fast path's match, unless it holds a keyword (`f(if)`): ast decides those."""
    if match is None or _KEYWORD_WORD.search(match.group(0)) is not None:
        return None
    return match


def _parse_expression(source: str) -> ast.expr | None:
    """The expression's AST, or None where `source` is not one Python expression (or one
    nested more than MAX_EXPRESSION_DEPTH deep)."""
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # ValueError: NUL bytes; RecursionError/MemoryError: absurd nesting. Either way
        # the text is not an expression we can turn into a test, so it stays informal.
        return None
    # Short sources cannot nest that deep: most examples skip the walk.
    if len(source) > MAX_EXPRESSION_DEPTH // 4 and _depth(tree) > MAX_EXPRESSION_DEPTH:
        return None
    return tree.body


def too_deep(source: str) -> bool:
    """Whether `source` nests brackets or operators more than MAX_EXPRESSION_DEPTH deep."""
    if _bracket_depth(source) > MAX_EXPRESSION_DEPTH:
        return True
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (RecursionError, MemoryError):
        return True
    except SyntaxError as exc:
        # Python's own limits on nesting: "too many nested parentheses", "too complex".
        return "nested" in str(exc.msg) or "too complex" in str(exc.msg)
    except ValueError:
        return False
    return _depth(tree) > MAX_EXPRESSION_DEPTH


def _depth(tree: ast.AST) -> int:
    """The depth of a syntax tree, walked without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _bracket_depth(text: str) -> int:
    """The deepest bracket of `text`, string literals skipped."""
    deepest = level = 0
    for token in _CALL_TOKENS.finditer(text):
        kind = token.group(0)
        if kind in _OPENERS:
            level += 1
            deepest = max(deepest, level)
        elif kind in _CLOSERS:
            level -= 1
    return deepest


def _scan_call(text: str, start: int) -> tuple[int, int] | None:
    """Where the call opening at `start` ends (just past its `)`) and its top-level commas."""
    if start >= len(text) or text[start] != "(":
        return None
    depth = commas = 0
    for token in _CALL_TOKENS.finditer(text, start):
        kind = token.group(0)
        if kind in _OPENERS:
            depth += 1
        elif kind in _CLOSERS:
            depth -= 1
            if depth == 0:
                return token.end(), commas
        elif kind == ",":
            commas += depth == 1
        elif len(kind) == 1:
            return None  # a quote that opens no complete string
    return None
