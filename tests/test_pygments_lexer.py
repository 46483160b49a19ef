"""The Pygments lexer: exact round trip and no `Error` token on every spec we have, and the
token types of a sample that shows each construct."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import (
    Comment,
    Error,
    Generic,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
)

from marshalike.language.pygments_lexer import MrshLexer

ROOT = Path(__file__).resolve().parents[1]
COMPAT = ROOT.parent / "shared" / "compat" / "marsha"
SPECS = sorted(
    [*(ROOT / "examples").rglob("*.mrsh"), *(ROOT / "tests").rglob("*.mrsh")]
    + (sorted(COMPAT.rglob("*.mrsh")) if COMPAT.is_dir() else [])
)

SAMPLE = """\
<!-- a comment
over two lines -->
# Shop

# use pricing.mrsh

# type Item
name, price
pen, 1.5
"ink, blue", 2

# func total(items: list of Item, tax: number = 0.2): a float

Adds the prices, then `tax`.

```python
total([])
```

- a prose bullet
* total([]) = 0.0
* total([Item('pen', 1.5)], tax=0) = 1.5
* total(None) = raises TypeError
* total('x') throws an error
"""


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for _, t, v in MrshLexer().get_tokens_unprocessed(text)]


def significant(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in tokens(text) if v.strip()]


def assert_clean(text: str) -> None:
    found = tokens(text)
    assert "".join(v for _, v in found) == text
    assert [v for t, v in found if t in Error] == []


def test_specs_exist() -> None:
    # examples/ and tests/golden/ hold specs; an empty glob would make the next test vacuous.
    assert any(p.is_relative_to(ROOT / "examples") for p in SPECS)
    assert any(p.is_relative_to(ROOT / "tests" / "golden") for p in SPECS)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_spec_round_trips_without_errors(path: Path) -> None:
    assert_clean(path.read_bytes().decode("utf-8", errors="replace"))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "# func f(",
                "# type T",
                "# use ",
                "* f(1) = ",
                "* ",
                "<!--",
                "-->",
                "```",
                "`",
                "raises",
                "throws",
                ",",
                "=",
                "(",
                ")",
                "'",
                '"',
                "\n",
                " ",
                "x",
                "1",
                ":",
            ]
        )
        | st.text(max_size=5)
    ).map("".join)
)
def test_any_text_round_trips_without_errors(text: str) -> None:
    assert_clean(text)


def test_sample_token_types() -> None:
    assert significant(SAMPLE) == [
        (Comment.Multiline, "<!--"),
        (Comment.Multiline, " a comment\nover two lines "),
        (Comment.Multiline, "-->"),
        (Generic.Heading, "# Shop"),
        (Generic.Heading, "#"),
        (Keyword.Namespace, "use"),
        (String, "pricing.mrsh"),
        (Generic.Heading, "#"),
        (Keyword.Declaration, "type"),
        (Name.Class, "Item"),
        (Name.Attribute, "name"),
        (Punctuation, ","),
        (Name.Attribute, " price"),
        (String, "pen"),
        (Punctuation, ","),
        (Number, "1.5"),
        (String, '"ink, blue"'),
        (Punctuation, ","),
        (Number, "2"),
        (Generic.Heading, "#"),
        (Keyword.Declaration, "func"),
        (Name.Function, "total"),
        (Punctuation, "("),
        (Name.Variable, "items"),
        (Punctuation, ":"),
        (Keyword.Type, "list"),
        (Keyword.Type, "of"),
        (Keyword.Type, "Item"),
        (Punctuation, ","),
        (Name.Variable, "tax"),
        (Punctuation, ":"),
        (Keyword.Type, "number"),
        (Operator, "="),
        (Number, "0.2"),
        (Punctuation, ")"),
        (Punctuation, ":"),
        (Keyword.Type, "a float"),
        (Text, "Adds the prices, then "),
        (String.Backtick, "`tax`"),
        (Text, "."),
        (String.Backtick, "```"),
        (Name.Label, "python"),
        (String, "total([])\n"),
        (String.Backtick, "```\n"),
        (Punctuation, "-"),
        (Text, "a prose bullet"),
        *_bullet_total_empty(),
        *_bullet_with_keyword(),
        (Punctuation, "*"),
        (Name, "total"),
        (Punctuation, "("),
        (Keyword.Constant, "None"),
        (Punctuation, ")"),
        (Operator, "="),
        (Keyword, "raises"),
        (Name.Exception, "TypeError"),
        (Punctuation, "*"),
        (Name, "total"),
        (Punctuation, "("),
        (String.Single, "'"),
        (String.Single, "x"),
        (String.Single, "'"),
        (Punctuation, ")"),
        (Keyword, "throws"),
        (Text, " an error"),
    ]


def _bullet_total_empty() -> list[tuple[object, str]]:
    return [
        (Punctuation, "*"),
        (Name, "total"),
        (Punctuation, "("),
        (Punctuation, "["),
        (Punctuation, "]"),
        (Punctuation, ")"),
        (Operator, "="),
        (Number.Float, "0.0"),
    ]


def _bullet_with_keyword() -> list[tuple[object, str]]:
    return [
        (Punctuation, "*"),
        (Name, "total"),
        (Punctuation, "("),
        (Punctuation, "["),
        (Name, "Item"),
        (Punctuation, "("),
        (String.Single, "'"),
        (String.Single, "pen"),
        (String.Single, "'"),
        (Punctuation, ","),
        (Number.Float, "1.5"),
        (Punctuation, ")"),
        (Punctuation, "]"),
        (Punctuation, ","),
        (Name, "tax"),
        (Operator, "="),
        (Number.Integer, "0"),
        (Punctuation, ")"),
        (Operator, "="),
        (Number.Float, "1.5"),
    ]


def test_prose_that_is_not_python_stays_text() -> None:
    assert significant("* f(1) = it's odd\n")[-1] == (Text, "it's odd")


def _registered() -> bool:
    return any(e.name == "mrsh" for e in entry_points(group="pygments.lexers"))


def test_lexer_metadata() -> None:
    assert (MrshLexer.aliases, MrshLexer.filenames) == (["mrsh", "marshalike"], ["*.mrsh"])


@pytest.mark.skipif(
    not _registered(), reason="the pygments.lexers entry point is not installed (reinstall)"
)
def test_pygments_finds_the_lexer_through_its_entry_point() -> None:
    assert isinstance(get_lexer_for_filename("shop.mrsh"), MrshLexer)
    assert isinstance(get_lexer_by_name("marshalike"), MrshLexer)
