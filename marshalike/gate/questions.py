"""Questions for a spec's author: inputs no example covers, on which code that passes every
example gives different answers.

Every passing candidate runs on the same inputs (in the sandbox, through the verdict
channel, as the examples do). Where two candidates disagree, the examples do not decide
what the function should do there, so that input is a question. A question whose answers
split the candidates evenly says the most about the spec, so questions are ranked by how
evenly they split (Gini impurity of the weighted answers), then by the order of the inputs.
Each distinct answer keeps how many candidates gave it (a candidate sampled k times counts
k times) and, where it can be one, the text an example bullet writes after `=`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from marshalike.gate import overfit
from marshalike.gate.consensus import probe_answers
from marshalike.gate.mutate import call_of
from marshalike.language import examples
from marshalike.language.calls import KNOWN_CLASSES
from marshalike.language.naming import BUILTIN_NAMES, parse_or_none
from marshalike.language.spec import Func
from marshalike.sandbox import channel, values
from marshalike.sandbox.isolation import Limits

DEFAULT_KEPT = 3  # questions kept per function
_LONGEST_ANSWER = 500  # characters of an answer written into an example bullet


@dataclass(frozen=True)
class Reply:
    """One distinct answer to a question."""

    shown: str  # as a person reads it: `-1`, `raises ValueError`, `no answer in time`
    support: int  # candidates (weighted by samples) that gave it
    expected: str | None  # what an example bullet writes after `=`; None: it cannot be one

    def to_json(self) -> dict[str, Any]:
        return {"shown": self.shown, "support": self.support, "expected": self.expected}


@dataclass(frozen=True)
class Question:
    """An input the examples leave open, with the candidates' distinct answers, the most
    supported first."""

    call: str
    replies: tuple[Reply, ...]
    # What the code did that made the input a question where the candidates did not
    # disagree: "raised IndexError: list index out of range" (`open_questions`).
    why: str = ""

    @property
    def spread(self) -> float:
        """How evenly the answers split the candidates: 0 when all agree, near 1 when each
        gives its own."""
        total = sum(r.support for r in self.replies)
        return 1.0 - sum((r.support / total) ** 2 for r in self.replies) if total else 0.0

    def shown(self) -> str:
        """`largest([-3, -1])`: `-1` (2 candidates) or `0` (1 candidate)"""
        said = [
            f"`{r.shown}` ({r.support} candidate{'s' * (r.support != 1)})" for r in self.replies
        ]
        if self.why:
            return (
                f"`{self.call}` {self.why}: is it a valid input, and if so, what should it "
                f"return? The code that passes the examples: " + " or ".join(said)
            )
        return f"`{self.call}`: " + " or ".join(said)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"call": self.call, "replies": [r.to_json() for r in self.replies]}
        return data | ({"why": self.why} if self.why else {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Question:
        """The inverse of `to_json`; ValueError where `data` is not one. `data` is untrusted
        (a lock file): a reply's `expected` that is not an answer `reply_of` could have
        written (`example_answer`) reads as None, an answer that cannot be an example, so
        it is never offered as one."""
        if not isinstance(data, Mapping):
            raise ValueError(f"not a question: {_json_type(data)}")
        call, why, replies = data.get("call"), data.get("why", ""), data.get("replies")
        if not isinstance(call, str) or not isinstance(why, str):
            raise ValueError('not a question: "call" and "why" should be strings')
        if not isinstance(replies, list):
            raise ValueError('not a question: "replies" should be an array')
        return cls(call, tuple(_reply(r) for r in replies), values.clean(why))


def ask(
    sources: Sequence[str],
    weights: Sequence[int],
    calls: Sequence[str],
    *,
    module_name: str,
    limits: Limits,
    extra_files: Mapping[str, str] | None = None,
    records: Sequence[str] = (),
    jobs: int = 4,
    keep: int = DEFAULT_KEPT,
    agreed: bool = False,
) -> tuple[Question, ...]:
    """The inputs among `calls` on which the candidate modules in `sources` (each standing
    for `weights[i]` samples) disagree, best first, at most `keep`. With `agreed`, inputs
    on which they all agree are questions too (after those they disagree on): for code no
    example checks, even one answer is a guess to confirm."""
    if len(sources) < (1 if agreed else 2) or not calls or keep <= 0:
        return ()

    def run(source: str) -> tuple[channel.Answer, ...]:
        return probe_answers(
            source,
            module_name=module_name,
            calls=calls,
            limits=limits,
            extra_files=extra_files,
            records=records,
        )

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = list(pool.map(run, sources))
    found = []
    for i, call in enumerate(calls):
        groups: dict[str, Reply] = {}
        for answers, weight in zip(runs, weights, strict=True):
            key, reply = reply_of(answers[i], weight)
            known = groups.get(key)
            groups[key] = reply if known is None else _more(known, weight)
        if len(groups) > 1 or agreed:
            replies = sorted(groups.values(), key=lambda r: -r.support)
            found.append(Question(call, tuple(replies)))
    ranked = sorted(enumerate(found), key=lambda pair: (-pair[1].spread, pair[0]))
    return tuple(question for _, question in ranked[:keep])


def open_questions(
    source: str,
    weight: int,
    silent: Sequence[tuple[str, str]],
    *,
    module_name: str,
    limits: Limits,
    extra_files: Mapping[str, str] | None = None,
    records: Sequence[str] = (),
) -> tuple[Question, ...]:
    """The questions inputs the spec is silent about raise, `silent` being each input and
    what the code (standing for `weight` samples) did there, which right code might do as
    well as code fitted to the examples: its answer, run as the examples run (one run for
    all of them), is each one's reply."""
    answers = probe_answers(
        source,
        module_name=module_name,
        calls=[call for call, _ in silent],
        limits=limits,
        extra_files=extra_files,
        records=records,
    )
    return tuple(
        Question(call, (reply_of(answer, weight)[1],), why)
        for (call, why), answer in zip(silent, answers, strict=True)
    )


def crash_questions(
    calls: Sequence[str], answers: Sequence[channel.Answer], weight: int
) -> tuple[Question, ...]:
    """A question for each of `calls` (inputs no example covers) on which the code, whose
    `answers` on them these are, crashes with a programming error (`overfit.is_bug`): the
    spec is silent there, and whether the input is valid, and what it gives, is for its
    author to say, even where an answer about another input (`throws an error`) lets the
    gate take such crashes."""
    found = []
    for call, answer in zip(calls, answers, strict=True):
        raised = answer.raised
        if raised is not None and overfit.is_bug(raised.type, raised.message):
            _, reply = reply_of(answer, weight)
            why = f"raised {raised.type}" + (f": {raised.message}" if raised.message else "")
            found.append(Question(call, (reply,), why))
    return tuple(found)


def _more(reply: Reply, weight: int) -> Reply:
    return Reply(reply.shown, reply.support + weight, reply.expected)


def reply_of(answer: channel.Answer, weight: int) -> tuple[str, Reply]:
    """The answer's grouping key and its reply."""
    if answer.kind == "timeout":
        return "timeout", Reply("no answer in time", weight, None)
    if answer.raised is not None:
        said = f"raises {answer.raised.type}"
        return said, Reply(said, weight, said if answer.raised.module == "builtins" else None)
    if answer.value is None:
        return "no output", Reply("no answer (the process ended)", weight, None)
    key = "value " + values.canonical(answer.value)
    shown = values.render(answer.value)
    if answer.value[0] == "object":
        return key, Reply(shown, weight, None)
    full = values.render(answer.value, limit=_LONGEST_ANSWER + 1)
    return key, Reply(shown, weight, full if _writable(full) else None)


def _writable(source: str) -> bool:
    """Whether `source`, a value's text, can stand after `=` in an example bullet: an
    answer (`examples.answer_problem`: one line of printable characters, a Python
    expression), not too long, a plain value (`plain_value`), and one its test reads as
    that value (`_read_as_written`)."""
    if len(source) > _LONGEST_ANSWER or examples.answer_problem(source) is not None:
        return False
    return plain_value(source) and _read_as_written(source)


def _read_as_written(source: str) -> bool:
    """Whether an example's test reads `source` as the value it shows: not NaN, which no
    value equals, no name the test has not (`inf`), and no call by a bare name but a
    container's or a standard value type's (`Decimal('1')`, which the test imports from
    its module, as it does for every example: `KNOWN_CLASSES`)."""
    tree = parse_or_none(source)
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Name) and node.id in _NUMBER_NAMES:
            return False
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            if node.func.id not in _CONTAINER_CALLS and node.func.id not in KNOWN_CLASSES:
                return False
    return tree is not None


def example_answer(text: str) -> bool:
    """Whether `text` is an answer `reply_of` can write after `=` in an example bullet:
    `raises NAME` (a builtin exception's), or a plain value's text (`_writable`). Where a
    reply comes from a lock, not from the sandbox, this is checked again: an answer is
    written into the user's spec, and runs wherever its tests run."""
    said = text.removeprefix("raises ")
    return said.isidentifier() and said != text or _writable(text)


def asks_about(call: str, func: Func) -> bool:
    """Whether `call` is an input a compile of `func` could ask about: a call of it as its
    examples call it, each argument a plain value (`plain_value`) or one an example of it
    passes as written (the inputs are the examples' with literals changed, or made from
    the parameters' types). Where a question comes from a lock, not from a compile, this
    is checked again: its call is written into the user's spec, and runs with its tests."""
    tree = call_of(call) if call.isprintable() else None
    if tree is None:
        return False
    given = [c for e in func.examples if e.call and (c := call_of(e.call)) is not None]
    callees = {func.name} | {ast.unparse(c.func) for c in given}
    written = {ast.dump(a) for c in given for a in (*c.args, *(k.value for k in c.keywords))}
    arguments = (*tree.args, *(k.value for k in tree.keywords))
    return ast.unparse(tree.func) in callees and all(
        _plain(a, 0) or ast.dump(a) in written for a in arguments
    )


# What `values.render` writes for a float or complex that has no literal (`inf`, `nanj`).
_NUMBER_NAMES = frozenset({"inf", "nan", "infj", "nanj"})
# The calls it writes for an empty set, a frozenset and a bytearray.
_CONTAINER_CALLS = frozenset({"set", "frozenset", "bytearray"})
# The dict types `values.render` writes by their bare names that an example may build.
_DICT_CALLS = (
    frozenset(kind.rpartition(".")[2] for kind in values.DICT_KINDS) & KNOWN_CLASSES.keys()
)
_DEEPEST = 100  # containers within containers; `values.render` writes "..." past 50


def plain_value(text: str) -> bool:
    """Whether `text` is a plain value as `values.render` writes one: literals (and `inf`,
    `nan` and complex numbers), lists, tuples, sets, dicts, `set()`, `frozenset({...})`,
    `bytearray(b'...')`, records (`Point(x=1, y=2)`: a name that is no builtin's, with
    plain keyword arguments only), `Counter` and `OrderedDict` of a plain dict, and value
    types' constructors on literals (what `values.well_formed` takes as a `value`'s text).
    Nothing else calls, names or runs anything."""
    tree = parse_or_none(text)
    return isinstance(tree, ast.Expression) and _plain(tree.body, 0)


def _plain(node: ast.expr, depth: int) -> bool:
    if depth > _DEEPEST:
        return False
    if isinstance(node, ast.Constant | ast.Name | ast.UnaryOp | ast.BinOp):
        return _number(node) or isinstance(node, ast.Constant)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(_plain(item, depth + 1) for item in node.elts)
    if isinstance(node, ast.Dict):
        pairs = zip(node.keys, node.values, strict=True)
        return all(
            k is not None and _plain(k, depth + 1) and _plain(v, depth + 1) for k, v in pairs
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name, args, keywords = node.func.id, node.args, node.keywords
        if name in _CONTAINER_CALLS and not keywords and len(args) <= 1:
            return not args or (
                name == "frozenset"
                and isinstance(args[0], ast.Set)
                and _plain(args[0], depth)
                or name == "bytearray"
                and _constant(args[0], bytes)
            )
        if name in _DICT_CALLS and not keywords and len(args) == 1:  # `Counter({'a': 1})`
            return isinstance(args[0], ast.Dict) and _plain(args[0], depth)
        if not args and name not in BUILTIN_NAMES and not name.startswith("_"):  # a record
            return all(k.arg is not None and _plain(k.value, depth + 1) for k in keywords)
    if isinstance(node, ast.Call | ast.Attribute):  # `Decimal('1.5')`, `datetime.timezone.utc`
        return values.well_formed(["value", "", ast.unparse(node)])
    return False


def _number(node: ast.expr, *, complex_part: bool | None = None) -> bool:
    """A number as `values.render` writes one: `1`, `-2.5`, `inf`, `-nan`, `-1j`, and a
    complex one as a real and an imaginary part (`(1-2j)`, `(nan+infj)`). With
    `complex_part`, only an imaginary number (True) or a real one (False)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        if complex_part is not None:
            return False
        return _number(node.left, complex_part=False) and _number(node.right, complex_part=True)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    if isinstance(node, ast.Name) and node.id in _NUMBER_NAMES:
        imaginary = node.id.endswith("j")
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float, complex):
        imaginary = type(node.value) is complex
    else:
        return False
    return complex_part is None or complex_part == imaginary


def _constant(node: ast.expr, *kinds: type) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, kinds)


def _reply(data: object) -> Reply:
    """A reply as `Reply.to_json` writes it; ValueError where `data` is not one."""
    if not isinstance(data, Mapping):
        raise ValueError(f"not a question: a reply is {_json_type(data)}")
    shown, support, expected = data.get("shown"), data.get("support"), data.get("expected", 0)
    if not isinstance(shown, str) or not (expected is None or isinstance(expected, str)):
        raise ValueError('not a question: a reply\'s "shown" and "expected" should be strings')
    if type(support) is not int or not 0 <= support <= _MOST_SUPPORT:
        raise ValueError('not a question: a reply\'s "support" should be a count of candidates')
    if expected is not None and not example_answer(expected):
        expected = None  # as `reply_of` has it for a text that cannot be an example
    return Reply(values.clean(shown), support, expected)


_MOST_SUPPORT = 10**9  # more candidates than any compile samples; a float's range besides


def _json_type(value: object) -> str:
    return f"a {type(value).__name__}" if value is not None else "null"
