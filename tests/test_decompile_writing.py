"""The function sections of a decompiled spec: where the code tests or returns a constant
that its examples land on and its docstring never names, the section states it as the
code has it, so that the probe gate lets the original code through when the spec is
compiled, and still turns away code fitted to the examples."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from marshalike.decompile.inputs import candidate_calls
from marshalike.decompile.module import decompile_source
from marshalike.decompile.reading import read_module
from marshalike.gate.overfit import static_sign
from marshalike.language.parse import parse
from marshalike.language.spec import Func
from marshalike.sandbox.isolation import Limits

LIMITS = Limits(timeout_s=2.0, startup_s=20.0)
ADULT = '''def adult(age: int) -> bool:
    """Whether someone of this age is an adult."""
    return age >= 18
'''
SIZES = '''def size(n: int) -> str:
    """How large n is."""
    if n > 100:
        return "big"
    return "small"


def secure(url: str) -> bool:
    """Whether the address is a secure one."""
    return url.startswith("https")
'''


def funcs(spec: str) -> dict[str, Func]:
    result = parse(spec, "m.mrsh")
    assert result.module is not None, result.diagnostics
    return {f.name: f for f in result.module.funcs}


def test_a_constant_the_examples_land_on_is_stated_and_the_original_passes_the_gate() -> None:
    spec = decompile_source(ADULT, filename="adult.py", limits=LIMITS).spec
    assert "* adult(18) = True" in spec and "* adult(17) = False" in spec
    section = spec[spec.index("# func adult") :]
    assert section.startswith(
        "# func adult(age: integer): boolean\n\n"
        "Whether someone of this age is an adult.\n\n"
        "Constants of the code, as it has them: `age >= 18`.\n\n* "
    )
    [func] = funcs(spec).values()
    assert static_sign(ADULT, func) is None


NAMED = '''ADULT_AGE = 18


def adult(age: int) -> bool:
    """Whether someone of this age is an adult."""
    return age >= ADULT_AGE
'''


def test_a_constant_of_the_module_is_compared_with_as_its_value() -> None:
    """`age >= ADULT_AGE` is a comparison with 18: the examples land on both sides of it,
    and the spec states it, so code that a model writes from it (`age >= 18`) passes."""
    spec = decompile_source(NAMED, filename="adult.py", limits=LIMITS).spec
    assert "* adult(18) = True" in spec and "= False" in spec
    stated = "\nConstants of the code, as it has them: `age >= 18`, `ADULT_AGE = 18`.\n"
    assert stated in spec
    [func] = funcs(spec).values()
    assert static_sign(NAMED, func) is None
    assert static_sign("def adult(age):\n    return age >= 18\n", func) is None


def test_the_code_with_its_constants_is_made_once_for_all_its_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each reader of each parameter (compared constants, lengths, record fields) reads
    the code with the module's constants written in: it is made and parsed once."""
    source = NAMED.replace("age: int)", "age: int, limit: int, words: list[str])")
    source = source.replace("return age", "return len(words) > limit and age")
    [func] = read_module(source, "adult.py").functions
    inlined = ast.unparse(ast.parse(func.source)).replace("ADULT_AGE", "18")
    parse, unparse = ast.parse, ast.unparse
    made: list[str] = []
    parsed: list[str] = []

    def parsing(source: str, *args: Any, **kwargs: Any) -> Any:
        parsed.extend([source] if source == inlined else [])
        return parse(source, *args, **kwargs)

    def unparsing(tree: ast.AST) -> str:
        made.extend([text] if (text := unparse(tree)) == inlined else [])
        return text

    monkeypatch.setattr(ast, "parse", parsing)
    monkeypatch.setattr(ast, "unparse", unparsing)
    calls = candidate_calls(func, {})
    monkeypatch.undo()
    assert (len(made), len(parsed)) == (1, 1)
    assert func.with_constants() == inlined
    assert "adult(18, 18, ['hello world', '', 'a'])" in calls  # next to `age >= 18`
    assert "adult(17, 18, [])" in calls


@pytest.mark.parametrize(
    "source",
    [
        NAMED.replace("ADULT_AGE = 18\n", "ADULT_AGE = 18\nADULT_AGE = 21\n"),
        NAMED.replace("age: int)", "age: int, ADULT_AGE: int = 30)"),
        NAMED.replace("    return", "    ADULT_AGE = 16\n    return"),
        NAMED.replace("ADULT_AGE = 18", "ADULT_AGE = [18]").replace(
            "ADULT_AGE\n", "ADULT_AGE[0]\n"
        ),
    ],
    ids=["bound twice", "a parameter", "bound in the function", "no number"],
)
def test_a_name_that_may_not_hold_the_module_constant_is_not_read_as_it(source: str) -> None:
    [func] = read_module(source, "adult.py").functions
    assert func.constants == ()
    assert func.with_constants() == func.source


def test_the_gate_still_turns_away_code_that_hard_codes_an_example() -> None:
    spec = decompile_source(ADULT, filename="adult.py", limits=LIMITS).spec
    [func] = funcs(spec).values()
    fitted = "def adult(age):\n    return age != 17 and age != 3\n"
    assert static_sign(fitted, func) == (
        "it special-cases 17, an argument of the examples: `age != 17`"
    )


@pytest.mark.parametrize(
    ("name", "stated"),
    [
        ("size", "`n > 100`, `return 'small'`, `return 'big'`"),
        ("secure", "`url.startswith('https')`"),
    ],
)
def test_tests_of_text_and_returned_constants_are_stated_too(name: str, stated: str) -> None:
    spec = decompile_source(SIZES, filename="sizes.py", limits=LIMITS).spec
    assert f"\nConstants of the code, as it has them: {stated}.\n" in spec
    assert static_sign(SIZES, funcs(spec)[name]) is None


def test_a_constant_the_docstring_names_is_not_stated_again() -> None:
    source = ADULT.replace("an adult.", "an adult: 18 or older.")
    spec = decompile_source(source, filename="adult.py", limits=LIMITS).spec
    assert "* adult(18) = True" in spec
    assert "Constants of the code" not in spec
