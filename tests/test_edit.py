"""Adding an example to a spec keeps every other byte of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from marshalike.language.edit import add_example
from marshalike.language.parse import parse

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "examples").rglob("*.mrsh"))


def _added_line(before: str, after: str) -> str:
    """The one line `after` has that `before` lacks, asserting nothing else changed."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    for i, line in enumerate(new):
        if i >= len(old) or old[i] != line:
            rest = new[:i] + new[i + 1 :]
            if "".join(rest) == before:
                return line
            # A blank line set the bullet off from a description.
            assert line.strip() == "" and "".join(new[:i] + new[i + 2 :]) == before
            return new[i + 1]
    raise AssertionError("nothing was added")


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_an_added_example_is_the_only_change_and_parses_as_an_example(spec: Path) -> None:
    text = spec.read_bytes().decode("utf-8")
    module = parse(text).module
    assert module is not None
    if not module.funcs:
        pytest.skip("no function")
    func = module.funcs[-1]
    call = f"{func.name}({', '.join('0' for _ in func.params)})"
    edited = add_example(text, func.name, call, "42")
    assert _added_line(text, edited).strip()[2:] == f"{call} = 42"
    again = parse(edited).module
    assert again is not None
    examples = next(f for f in again.funcs if f.name == func.name).examples
    assert len(examples) == len(func.examples) + 1
    assert any(e.call == call and e.expected == "42" for e in examples)
    others = [f.examples for f in again.funcs if f.name != func.name]
    assert others == [f.examples for f in module.funcs if f.name != func.name]


def test_line_endings_markers_and_a_missing_final_newline_are_the_file_s_own() -> None:
    text = "# func f(x): int\r\n\r\nDouble.\r\n\r\n- f(1) = 2\r\n- f(2) = 4"
    assert add_example(text, "f", "f(0)", "0") == text + "\r\n- f(0) = 0\r\n"
    bare = "# func g(x): int\n\nDouble.\n\n\n# func h(): int\n"
    assert add_example(bare, "g", "g(1)", "2") == (
        "# func g(x): int\n\nDouble.\n\n* g(1) = 2\n\n\n# func h(): int\n"
    )


def test_a_function_the_spec_does_not_have_is_an_error() -> None:
    with pytest.raises(ValueError, match="no function 'nope'"):
        add_example("# func f(x): int\n\nDo.\n", "nope", "nope()", "1")


NOTED = """\
# func f(x): int

Double.

* f(1) = 2
* f(2) = 4
  - because two doubled is four
  (and not five)

  Even after a blank line, an indented line is the example's.
* f(3) = 6
taken on, without a blank line, as markdown takes it

A paragraph of the description.

# func g(): int

One.
"""


def test_an_added_example_follows_the_last_one_s_sub_bullets_and_continuation_lines() -> None:
    """A line indented under an example bullet, or run on from it, is that example's:
    the new bullet goes after them, not between the example and what it says."""
    assert add_example(NOTED, "f", "f(0)", "0") == NOTED.replace(
        "as markdown takes it\n", "as markdown takes it\n* f(0) = 0\n"
    )
    shorter = NOTED.replace(
        "* f(3) = 6\ntaken on, without a blank line, as markdown takes it\n", ""
    )
    assert add_example(shorter, "f", "f(0)", "0") == shorter.replace(
        "the example's.\n", "the example's.\n* f(0) = 0\n"
    )


def test_a_code_block_under_the_last_example_stays_whole() -> None:
    text = "# func f(x): int\n\nDouble.\n\n* f(1) = 2\n  ```\nf(1)\n\n  ```\n\nMore.\n"
    assert add_example(text, "f", "f(0)", "0") == text.replace("  ```\n\n", "  ```\n* f(0) = 0\n\n")


def test_examples_commented_out_after_the_last_one_stay_out_of_it() -> None:
    """The spec reads a comment as blank: the bullet goes before one that starts a line,
    never into it, and after one that starts in the example's line and runs on."""
    text = "# func f(x): int\n\nDouble.\n\n* f(1) = 2\n<!--\n* f(5) = 11\n-->\nMore.\n"
    added = add_example(text, "f", "f(0)", "0")
    assert added == text.replace("* f(1) = 2\n", "* f(1) = 2\n* f(0) = 0\n")
    running = "# func f(x): int\n\nDouble.\n\n* f(1) = 2 <!-- was 3\n* f(5) = 11\n-->\nMore.\n"
    assert add_example(running, "f", "f(0)", "0") == running.replace("-->\n", "-->\n* f(0) = 0\n\n")
    for edited, before in ((added, text), (add_example(running, "f", "f(0)", "0"), running)):
        module, was = parse(edited).module, parse(before).module
        assert module is not None and was is not None
        assert [e.call for e in module.funcs[0].examples] == ["f(1)", "f(0)"]
        assert module.funcs[0].description == was.funcs[0].description


def test_the_bullet_goes_after_a_comment_that_runs_on_for_thousands_of_lines() -> None:
    """The bullet goes after a long comment opened in the example's line, found in one
    pass over it (reading it again for each of its lines took over a minute)."""
    commented = "".join(f"* f({n}) = {2 * n}\n" for n in range(20_000))
    text = f"# func f(x): int\n\nDouble.\n\n* f(1) = 2 <!-- old\n{commented}--> <!-- x -->\nMore.\n"
    added = add_example(text, "f", "f(0)", "0")
    assert added == text.replace("-->\nMore.\n", "-->\n* f(0) = 0\n\nMore.\n")
    module = parse(added).module
    assert module is not None
    assert [e.call for e in module.funcs[0].examples] == ["f(1)", "f(0)"]
