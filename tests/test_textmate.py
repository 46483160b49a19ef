"""The VS Code TextMate grammar: valid JSON, every regex compiles, and it scopes a sample
spec as expected.

VS Code runs the grammar with Oniguruma; the grammar keeps to the regex subset that Python's
`re` reads the same way (no `\\G`, `\\h`, possessive or atomic groups), so a small
line-by-line TextMate interpreter below can apply it. It implements what the grammar uses:
`match`, `begin`/`end` (with `\\1` back-references from begin), captures, `patterns`,
`contentName` and local `#includes`; external grammars (`source.python`) add no scopes
here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_pygments_lexer import SAMPLE, SPECS

VSCODE = Path(__file__).resolve().parents[1] / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "mrsh.tmLanguage.json").read_text("utf-8"))
Rule = dict[str, Any]
Token = tuple[tuple[str, ...], str]


def regexes(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("match", "begin", "end") and isinstance(value, str):
                yield value
            else:
                yield from regexes(value)
    elif isinstance(node, list):
        for item in node:
            yield from regexes(item)


@dataclass
class Frame:
    rule: Rule
    scopes: tuple[str, ...]
    end: re.Pattern[str] | None


def expand(rules: list[Rule]) -> list[Rule]:
    """The rules of a `patterns` list with includes resolved, in order."""
    found: list[Rule] = []
    for rule in rules:
        include = rule.get("include")
        if include is None:
            found.append(rule)
        elif include == "$self":
            found += expand(GRAMMAR["patterns"])
        elif include.startswith("#"):
            target = GRAMMAR["repository"][include[1:]]
            found += (
                expand(target["patterns"])
                if "patterns" in target and not ("match" in target or "begin" in target)
                else [target]
            )
    return found


def captured(
    match: re.Match[str], captures: dict[str, Rule], scopes: tuple[str, ...]
) -> list[Token]:
    """The matched text split into tokens by its (non-nested) capture groups."""
    tokens, position = [], match.start()
    for group in sorted(captures, key=int):
        start, end = match.span(int(group))
        if start < position or start == end:
            continue
        tokens.append((scopes, match.string[position:start]))
        tokens.append(((*scopes, captures[group]["name"]), match.string[start:end]))
        position = end
    tokens.append((scopes, match.string[position : match.end()]))
    return [t for t in tokens if t[1]]


def with_name(scopes: tuple[str, ...], rule: Rule) -> tuple[str, ...]:
    return (*scopes, rule["name"]) if "name" in rule else scopes


def earliest(frame: Frame, line: str, position: int) -> tuple[Rule | None, re.Match[str]] | None:
    best: tuple[Rule | None, re.Match[str]] | None = None
    if frame.end is not None:
        found = frame.end.search(line, position)
        best = (None, found) if found else None
    for rule in expand(frame.rule.get("patterns", [])):
        found = re.compile(rule.get("match") or rule["begin"]).search(line, position)
        if found and (best is None or found.start() < best[1].start()):
            best = (rule, found)
    return best


def end_pattern(rule: Rule, begin: re.Match[str]) -> re.Pattern[str]:
    def group(ref: re.Match[str]) -> str:
        return re.escape(begin.group(int(ref.group(1))) or "")

    return re.compile(re.sub(r"\\(\d)", group, rule["end"]))


def step(stack: list[Frame], line: str, position: int, out: list[Token]) -> int:
    """Applies the earliest matching rule at or after `position`; returns the new position."""
    frame, depth = stack[-1], len(stack)
    found = earliest(frame, line, position)
    if found is None:
        out.append((frame.scopes, line[position:]))
        return len(line)
    rule, match = found
    out.append((frame.scopes, line[position : match.start()]))
    if rule is None:
        outer = with_name(stack[-2].scopes, frame.rule)
        out += captured(match, frame.rule.get("endCaptures", {}), outer)
        stack.pop()
    elif "match" in rule:
        out += captured(match, rule.get("captures", {}), with_name(frame.scopes, rule))
    else:
        scopes = with_name(frame.scopes, rule)
        out += captured(match, rule.get("beginCaptures", {}), scopes)
        content = (*scopes, rule["contentName"]) if "contentName" in rule else scopes
        stack.append(Frame(rule, content, end_pattern(rule, match)))
    if match.end() == position and len(stack) == depth:
        # A zero-width match that changes nothing would loop forever: take one character.
        out.append((frame.scopes, line[position : position + 1]))
        return position + 1
    return match.end()


def tokenize(text: str) -> list[Token]:
    stack = [Frame({"patterns": GRAMMAR["patterns"]}, (GRAMMAR["scopeName"],), None)]
    out: list[Token] = []
    for line in text.splitlines(keepends=True):
        position = 0
        while position < len(line):
            position = step(stack, line, position, out)
    return [t for t in out if t[1]]


def scopes_of(text: str, piece: str, occurrence: int = 0) -> tuple[str, ...]:
    """The scopes of the token that is exactly `piece` (its n-th occurrence)."""
    matches = [scopes for scopes, value in tokenize(text) if value == piece]
    assert len(matches) > occurrence, f"{piece!r} is not one token: {tokenize(text)}"
    return matches[occurrence]


def test_regexes_compile() -> None:
    found = list(regexes(GRAMMAR))
    assert len(found) > 20
    for pattern in found:
        # `\1` in an `end` refers to the text its `begin` captured; any literal stands in.
        re.compile(re.sub(r"\\\d", "x", pattern))


def test_grammar_and_package_agree() -> None:
    package = json.loads((VSCODE / "package.json").read_text("utf-8"))
    [language] = package["contributes"]["languages"]
    [grammar] = package["contributes"]["grammars"]
    assert (language["id"], language["extensions"]) == ("mrsh", [".mrsh"])
    assert (grammar["language"], grammar["scopeName"]) == ("mrsh", GRAMMAR["scopeName"])
    assert (VSCODE / grammar["path"]).is_file()
    config = json.loads((VSCODE / language["configuration"]).read_text("utf-8"))
    assert config["comments"]["blockComment"] == ["<!--", "-->"]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_spec_tokenizes_back_to_itself(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="replace")
    assert "".join(value for _, value in tokenize(text)) == "".join(text.splitlines(True))


@pytest.mark.parametrize(
    ("piece", "occurrence", "scope"),
    [
        ("<!--", 0, "punctuation.definition.comment.begin.mrsh"),
        (" a comment\n", 0, "comment.block.html.mrsh"),
        (" Shop", 0, "markup.heading.mrsh"),
        ("use", 0, "keyword.control.import.mrsh"),
        ("pricing.mrsh", 0, "string.unquoted.path.mrsh"),
        ("type", 0, "storage.type.class.mrsh"),
        ("Item", 0, "entity.name.type.mrsh"),
        ("1.5", 0, "constant.numeric.mrsh"),
        ('"ink, blue"', 0, "string.quoted.csv.mrsh"),
        ("func", 0, "storage.type.function.mrsh"),
        ("total", 0, "entity.name.function.mrsh"),
        ("items", 0, "variable.parameter.mrsh"),
        ("list of Item", 0, "support.type.mrsh"),
        ("0.2", 0, "constant.other.default.mrsh"),
        ("a float", 0, "support.type.return.mrsh"),
        ("`", 0, "punctuation.definition.raw.mrsh"),
        ("total([])\n", 0, "markup.raw.block.mrsh"),
        ("-", 0, "punctuation.definition.list.begin.mrsh"),
        ("total", 1, "entity.name.function.call.mrsh"),
        ("=", 1, "keyword.operator.example.mrsh"),
        ("Item", 1, "entity.name.function.call.mrsh"),
        ("raises", 0, "keyword.control.exception.mrsh"),
        ("TypeError", 0, "support.type.exception.mrsh"),
        ("throws", 0, "keyword.control.exception.mrsh"),
        (" an error", 0, "string.unquoted.outcome.mrsh"),
    ],
)
def test_sample_scopes(piece: str, occurrence: int, scope: str) -> None:
    assert scopes_of(SAMPLE, piece, occurrence)[-1] == scope


def test_keyword_argument_inside_a_call_is_not_the_example_equals() -> None:
    line = "* total([Item('pen', 1.5)], tax=0) = 1.5\n"
    with_equals = [(scopes[-1], value) for scopes, value in tokenize(line) if "=" in value]
    assert with_equals == [
        ("meta.function-call.mrsh", ", tax=0"),
        ("keyword.operator.example.mrsh", "="),
    ]


def test_headings_end_a_type_block() -> None:
    text = "# type T\na, b\n1, x\n# func f(): int\n"
    assert scopes_of(text, "f") == (
        "source.mrsh",
        "meta.function.mrsh",
        "entity.name.function.mrsh",
    )
    assert "meta.type.mrsh" in scopes_of(text, "1")
