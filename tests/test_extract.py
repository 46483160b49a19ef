"""Extraction and validation of model answers shaped like what real models write."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator

import pytest

from marshalike.language.diagnostics import Span
from marshalike.language.spec import Func, Param
from marshalike.synth.extract import Extracted, extract, fenced_blocks, installed, reassemble

SPAN = Span(1, 1, 1, 2)


def func(name: str, *params: str | None) -> Func:
    """A declared function; each param is its name, or None for Marsha's bare types."""
    declared = tuple(Param(p, "int", None, SPAN) for p in params)
    return Func(name, declared, "int", "", (), "", SPAN, SPAN)


ADD = func("add", None, None)
CLEAN_ADD = "def add(a, b):\n    return a + b\n"


def chat(text: str, target: Func = ADD, **options: object) -> Extracted:
    return extract(text, target, prompt_kind="chat", **options)  # type: ignore[arg-type]


def test_prose_around_one_fence() -> None:
    answer = (
        "Sure! Here's an implementation:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\n"
        "It returns the sum of `a` and `b`."
    )
    assert chat(answer) == Extracted(True, CLEAN_ADD, ())


def test_the_fence_that_defines_the_function_wins() -> None:
    answer = (
        "Usage:\n```python\nprint(add(1, 2))\n```\n"
        "Install nothing:\n```bash\npython add.py\n```\n"
        "Code:\n```py\nimport math\n\ndef add(a, b):\n    # plain addition\n    return a + b\n```\n"
        "Or:\n```python\ndef add(a, b):\n    return sum([a, b])\n```\n"
    )
    result = chat(answer)
    assert result.ok
    assert (
        result.code == "import math\n\n\ndef add(a, b):\n    # plain addition\n    return a + b\n"
    )


def test_fence_kinds() -> None:
    text = "~~~python\nx = 1\n~~~\n  ```\n  y = 2\n  ```\n```json\n{}\n```\n````Python\nz = 3\n````"
    assert fenced_blocks(text) == ["x = 1\n", "y = 2\n", "z = 3\n"]


def test_inline_triple_backticks_are_not_a_block() -> None:
    answer = "Call ```add``` with two ints:\n```python\ndef add(a, b):\n    return a + b\n```\n"
    assert fenced_blocks(answer) == [CLEAN_ADD]


def test_an_unclosed_fence_runs_to_the_end() -> None:
    # A stop string of ``` or max_tokens cuts the closing fence off.
    assert chat("```python\ndef add(a, b):\n    return a + b\n") == Extracted(True, CLEAN_ADD, ())


def test_bare_code_without_fence_loses_its_prose() -> None:
    answer = "Here is the function:\n\ndef add(a, b):\n    return a + b\n\nThis adds two numbers."
    assert chat(answer) == Extracted(True, CLEAN_ADD, ())


def test_no_code_at_all() -> None:
    assert chat("I'm sorry, I can't help with that.") == Extracted(
        False, "", ("the answer holds no Python code",)
    )


def test_wrong_name() -> None:
    result = chat("```python\ndef sum_two(a, b):\n    return a + b\n```")
    assert result == Extracted(
        False,
        "def sum_two(a, b):\n    return a + b\n",
        ("the code does not define function 'add' (it defines 'sum_two')",),
    )


def test_nothing_defined() -> None:
    assert chat("```python\nimport math\n```").problems == (
        "the code does not define function 'add'",
    )


@pytest.mark.parametrize(
    ("signature", "problems"),
    [
        ("a", ("'add' takes 1 parameter; the spec declares 2",)),
        ("a, b, c", ("'add' takes 3 parameters; the spec declares 2",)),
        ("a, b, c, d=0", ("'add' takes 3 to 4 parameters; the spec declares 2",)),
        (
            "a, b, *, strict",
            ("'add' takes keyword-only parameter 'strict'; the spec does not declare it",),
        ),
        # the spec's parameters and no others: `*numbers` takes any call, `add()` too
        ("a, b, c=0", ("'add' takes 2 to 3 parameters; the spec declares 2",)),
        (
            "a, b, *, strict=False",
            ("'add' takes keyword-only parameter 'strict'; the spec does not declare it",),
        ),
        (
            "*numbers",
            (
                "'add' takes 0 parameters; the spec declares 2",
                "'add' takes *numbers; the spec does not declare it",
            ),
        ),
        ("a, b, **options", ("'add' takes **options; the spec does not declare it",)),
        ("a, b=0", ()),
        ("a, /, b", ()),  # the spec names neither: callers pass them by position
    ],
)
def test_arity(signature: str, problems: tuple[str, ...]) -> None:
    result = chat(f"```python\ndef add({signature}):\n    return 0\n```")
    assert result.problems == problems
    assert result.ok == (not problems)


def test_a_named_parameter_is_not_taken_by_position_only() -> None:
    result = chat(
        "```python\ndef area(width, /, height):\n    return 0\n```", func("area", "width", "height")
    )
    assert result.problems == (
        "'area' takes 'width' by position only; the spec names it, so a caller may pass it by name",
    )


def test_named_parameters_must_keep_their_names() -> None:
    result = chat(
        "```python\ndef area(w, height):\n    return w * height\n```",
        func("area", "width", "height"),
    )
    assert result.problems == ("parameter 1 of 'area' is named 'w'; the spec names it 'width'",)


@pytest.mark.parametrize(
    ("signature", "problems"),
    [
        ("name, greeting='Hello'", ()),
        ('name, greeting="Hello"', ()),
        (
            "name, greeting='Goodbye'",
            ("parameter 2 of 'greet' has the default 'Goodbye'; the spec gives it 'Hello'",),
        ),
        (
            "name, greeting",
            ("parameter 2 of 'greet' has the default none; the spec gives it 'Hello'",),
        ),
    ],
)
def test_a_declared_default_is_kept(signature: str, problems: tuple[str, ...]) -> None:
    """A caller leaving the parameter out gets what the spec says, which no example shows
    where every example passes it."""
    greet = Func(
        "greet",
        (Param("name", "str", None, SPAN), Param("greeting", "str", "'Hello'", SPAN)),
        "str", "", (), "", SPAN, SPAN,
    )  # fmt: skip
    result = chat(f"```python\ndef greet({signature}):\n    return greeting + name\n```", greet)
    assert result.problems == problems


A_STUB = ("'add' is a stub (its body does nothing); the spec wants a value back",)


@pytest.mark.parametrize(
    "body",
    [
        '"""Add them."""',
        "pass",
        "...",
        '"""Add them."""\n    pass\n    return None',
        "raise NotImplementedError",
        'raise NotImplementedError("later")',
        "return",
        "return None",
    ],
)
def test_a_stub_is_never_a_candidate(body: str) -> None:
    assert chat(f"```python\ndef add(a, b):\n    {body}\n```").problems == A_STUB


def test_a_body_that_does_something_or_a_function_with_nothing_to_return_is_no_stub() -> None:
    assert chat("```python\ndef add(a, b):\n    return 0\n```").ok
    assert chat("```python\ndef add(a, b):\n    raise ValueError('no')\n```").ok
    void = Func("log", (), None, "", (), "", SPAN, SPAN)
    assert chat("```python\ndef log():\n    pass\n```", void).ok


def test_async_function() -> None:
    assert chat("```python\nasync def add(a, b):\n    return a + b\n```").problems == (
        "'add' is async; the spec needs a plain function",
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            "def add(a, b):\nreturn a + b",
            "syntax error on line 2: "
            "expected an indented block after function definition on line 1",
        ),
        ("def add(a, b):\n    return (a + b", "syntax error on line 2: '(' was never closed"),
    ],
)  # fmt: skip
def test_syntax_error(body: str, problem: str) -> None:
    assert chat(f"```python\n{body}\n```") == Extracted(False, "", (problem,))


def test_demo_code_is_dropped() -> None:
    answer = (
        "```python\ndef add(a, b):\n    return a + b\n\n"
        "print(add(2, 3))  # 5\nassert add(1, 1) == 2\n\n"
        'if __name__ == "__main__":\n    import sys\n    print(add(*map(int, sys.argv[1:])))\n```'
    )
    assert chat(answer) == Extracted(
        True,
        CLEAN_ADD,
        (),
        (
            "line 4: dropped a top-level call to print()",
            "line 5: dropped a top-level assert",
            'line 7: dropped the `if __name__ == "__main__":` block',
        ),
    )


SIDE_EFFECT_TAIL = (
    " would run on import — keep only imports, definitions and constant assignments"
    " at the top level"
)


@pytest.mark.parametrize(
    ("statement", "what"),
    [
        ("open('out.txt', 'w').write('x')", "call to open('out.txt', 'w').write()"),
        ('os.system("rm -rf /")', "call to os.system()"),
        ("for i in range(3):\n    pass", "for loop"),
        ("while True:\n    pass", "while loop"),
        ("data = load()", "assignment of a computed value to data"),
        ("CACHE = [x * 2 for x in range(9)]", "assignment of a computed value to CACHE"),
        ("if DEBUG:\n    pass", "if statement"),
        ("counter += 1", "assignment of a computed value to counter"),
    ],
)
def test_other_side_effects_reject_the_candidate(statement: str, what: str) -> None:
    result = chat(f"```python\n{statement}\n\ndef add(a, b):\n    return a + b\n```")
    assert result.problems == (f"line 1: top-level {what}{SIDE_EFFECT_TAIL}",)
    assert not result.ok
    assert result.code == CLEAN_ADD


def test_helpers_constants_and_guarded_imports_are_kept() -> None:
    code = (
        "import re\n"
        "from typing import Final\n"
        "try:\n    import tomllib\nexcept ImportError:\n    tomllib = None\n"
        'PATTERN = re.compile(r"\\d+")\n'
        "LIMIT: Final = 10**6\n"
        'KEYS = frozenset({"a", "b"})\n'
        "BY_LENGTH = lambda s: len(s)\n"
        "Pair = tuple[int, int]\n"
        "\n\nclass Box:\n    size = 3\n"
        "\n\n@staticmethod\ndef _clamp(n: int) -> int:\n    return min(n, LIMIT)\n"
        "\n\ndef add(a, b):\n    return _clamp(a + b)\n"
    )
    assert chat(f"```python\n{code}```") == Extracted(True, code, ())


def test_statements_sharing_a_line_are_split() -> None:
    result = chat("```python\nimport os; print(os.name)\ndef add(a, b): return a + b\n```")
    assert result.code == "import os\n\n\ndef add(a, b): return a + b\n"
    assert result.dropped == ("line 1: dropped a top-level call to print()",)


def test_redefinitions_of_provided_names_are_dropped() -> None:
    answer = (
        "```python\nfrom dataclasses import dataclass\n\n@dataclass\nclass Person:\n"
        "    age: int\n\ndef add(a, b):\n    return a + b\n```"
    )
    result = chat(answer, known_names=("Person", "add"))
    assert result.code == "from dataclasses import dataclass\n\n\n" + CLEAN_ADD
    assert result.dropped == (
        "line 3: dropped a redefinition of 'Person', which the module already provides",
    )


@pytest.mark.parametrize(
    "binding",
    [
        "from math import factorial as shift",
        "try:\n    from math import factorial as shift\nexcept ImportError:\n    pass",
        "import math as shift",
        "shift = None",
        "Person = dict",
    ],
)
def test_a_provided_name_bound_to_something_else_rejects_the_code(binding: str) -> None:
    """`shift` is a used spec's function the module imports, `Person` the spec's type: the
    verifier and the tests read them as the module provides them, so the code may not
    make them another object."""
    answer = f"```python\n{binding}\n\n\ndef add(a, b):\n    return a + b\n```"
    result = chat(answer, known_names=("Person", "shift"), local_modules=("dep",))
    assert not result.ok
    (said,) = [p for p in result.problems if "already provides" in p]
    assert said.startswith("line 1: binds '")


def test_a_provided_name_imported_from_its_own_module_is_kept() -> None:
    answer = "```python\nfrom dep import shift\n\n\ndef add(a, b):\n    return shift(a) + b\n```"
    result = chat(answer, known_names=("shift",), local_modules=("dep",))
    assert result.ok, result.problems


def test_only_the_last_definition_of_a_name_is_kept() -> None:
    """Python keeps the last: the module shows only the one that runs, not an earlier
    right-looking one above it."""
    answer = (
        "```python\ndef add(a, b):\n    return a + b\n\n\ndef add(a, b):\n    return a - b\n```"
    )
    result = chat(answer)
    assert result.ok
    assert result.code == "def add(a, b):\n    return a - b\n"
    assert result.dropped == (
        "line 1: dropped an earlier definition of 'add' (Python keeps the last one)",
    )


def test_a_name_spelled_as_another_is_refused() -> None:
    """`ａdd` (a fullwidth a) is `add` to Python (NFKC): the module would show one function
    and run another."""
    answer = "```python\ndef add(a, b):\n    return a + b\n\n\ndef ａdd(a, b):\n    return 0\n```"
    assert chat(answer).problems == (
        "line 5: the name 'ａdd' is 'add' to Python; write it as 'add'",
    )
    assert chat("```python\ndef add(a, b):\n    π = 3\n    return a + b\n```").ok


@pytest.fixture
def numpy_missing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numpy" else real(name, *a)
    )
    installed.cache_clear()
    yield
    installed.cache_clear()


@pytest.mark.usefixtures("numpy_missing")
def test_imports_of_missing_modules() -> None:
    answer = (
        "```python\nimport numpy as np\nimport json, os.path\nfrom collections import Counter\n"
        "import sibling\n\ndef add(a, b):\n    from numpy.linalg import norm\n"
        "    return int(np.add(a, b))\n```"
    )
    result = chat(answer, local_modules=("sibling",))
    assert result.problems == (
        "line 1: module 'numpy' is not installed",
        "line 7: module 'numpy' is not installed",
    )


def test_installed_modules() -> None:
    assert installed("json") and installed("pytest") and installed("__future__")
    assert not installed("marshalike_no_such_module")


def test_relative_import() -> None:
    result = chat("```python\nfrom .models import Person\n\ndef add(a, b):\n    return a + b\n```")
    assert result.problems == ("line 1: relative imports cannot work in a generated module",)


STUB = '''from dataclasses import dataclass


def helper(x: int) -> int:
    return x


def add(a: int, b: int) -> int:
    """Add two integers.

    >>> add(2, 3)
    5
    """
'''
HEADER = STUB[STUB.index("def add") :]


def complete(text: str, stub: str = STUB) -> Extracted:
    return extract(text, ADD, prompt_kind="completion", stub=stub)


def test_completion_is_reassembled_with_the_stub() -> None:
    completion = "    return a + b\n\n\ndef main():\n    print(add(1, 2))\n\nmain()\n"
    assert complete(completion) == Extracted(True, HEADER + "    return a + b\n", ())


def test_completion_continuing_a_partial_line() -> None:
    # A prompt that ends with the body's indentation: the completion goes on from there.
    result = complete("return a + b\nprint('done')", stub=STUB + "    ")
    assert result == Extracted(True, HEADER + "    return a + b\n", ())


def test_empty_completion() -> None:
    assert complete("\n\n") == Extracted(
        False, "", ("the completion is empty: no function body follows the stub",)
    )


def test_completion_that_writes_no_indented_body() -> None:
    # The model started a new top-level statement at once: only the docstring remains.
    result = complete("def add(a, b):\n    return a + b\n")
    assert result == Extracted(
        False, "", ("the completion is empty: no function body follows the stub",)
    )


def test_completion_with_a_syntax_error() -> None:
    assert complete("    return a +\n").problems == ("syntax error on line 7: invalid syntax",)


def test_completion_from_a_chat_tuned_model_uses_its_fence() -> None:
    # The body is empty, but the model answered with a full fenced definition instead.
    result = complete("\n```python\ndef add(a, b):\n    return a + b\n```\n")
    assert result == Extracted(True, CLEAN_ADD, ())


def test_reassemble_needs_the_function_in_the_stub() -> None:
    with pytest.raises(ValueError, match="the completion stub does not define 'add'"):
        reassemble("def other():\n", "    pass\n", "add")
    assert reassemble(HEADER, "    return 1\n\n\nx = 2\n", "add") == HEADER + "    return 1\n"


def test_code_python_warns_about_is_judged_without_a_stray_warning() -> None:
    # `1if` makes the parser warn ("invalid decimal literal"); a compile would print it on
    # stderr between its own lines.
    answer = "```python\ndef add(a, b):\n    return 1if a else b\n```\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert chat(answer).ok
        assert not chat("```python\ndef add(a, b):\n    return 1if\n```\n").ok
    assert [str(w.message) for w in caught] == []


def test_a_null_byte_is_rejected_not_raised() -> None:
    result = chat("```python\ndef add(a, b):\n    return a\x00 + b\n```\n")
    assert not result.ok


IMPORT_TAIL = " runs code on import — use only constants, names and containers there"
DECORATOR_TAIL = (
    " runs code on import — only functools.cache, lru_cache, wraps, cached_property and "
    "total_ordering, dataclass, staticmethod, classmethod, property, overload and "
    "abstractmethod may decorate; call a helper inside the function instead"
)


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (
            "def _go():\n    return 0\n\ndef _sum(a, b, _x=_go()):\n    return a + b\n\n"
            "def add(a, b):\n    return _sum(a, b)\n",
            f"line 4: a default value of '_sum' (_go()){IMPORT_TAIL}",
        ),
        (
            "def add(a, b=[print(1)]):\n    return a + b\n",
            f"line 1: a default value of 'add' ([print(1)]){IMPORT_TAIL}",
        ),
        (
            "def add(a: setup(), b):\n    return a + b\n",
            f"line 1: an annotation of 'add' (setup()){IMPORT_TAIL}",
        ),
        (
            "def hook(f):\n    return f\n\n@hook\ndef add(a, b):\n    return a + b\n",
            f"line 4: decorator @hook{DECORATOR_TAIL}",
        ),
        (
            "import functools\n\n@functools.lru_cache(maxsize=setup())\n"
            "def add(a, b):\n    return a + b\n",
            f"line 3: decorator @functools.lru_cache(maxsize=setup()){DECORATOR_TAIL}",
        ),
        (
            "def cache(f):\n    return f\n\n@cache\ndef add(a, b):\n    return a + b\n",
            f"line 4: decorator @cache{DECORATOR_TAIL}",
        ),
        (
            "class Patch:\n    setup()\n\ndef add(a, b):\n    return a + b\n",
            "line 2: a class body's call to setup() runs code on import — keep only "
            "definitions and constant attributes in a class body",
        ),
        (
            "class Patch:\n    x = setup()\n\ndef add(a, b):\n    return a + b\n",
            f"line 2: the class attribute (setup()){IMPORT_TAIL}",
        ),
        (
            "class Patch(make_base()):\n    pass\n\ndef add(a, b):\n    return a + b\n",
            f"line 1: a base class of 'Patch' (make_base()){IMPORT_TAIL}",
        ),
        (
            "class Patch(flag=setup()):\n    pass\n\ndef add(a, b):\n    return a + b\n",
            f"line 1: a keyword of class 'Patch' (setup()){IMPORT_TAIL}",
        ),
        (
            "class Meta(type):\n    pass\n\nclass Patch(metaclass=Meta):\n    pass\n\n"
            "def add(a, b):\n    return a + b\n",
            "line 4: the metaclass of 'Patch' runs code on import — a class may only use "
            "metaclass=ABCMeta",
        ),
        (
            "class Base:\n    def __init_subclass__(cls):\n        pass\n\n"
            "def add(a, b):\n    return a + b\n",
            "line 2: 'Base.__init_subclass__' runs code on import when a class or annotation "
            "uses 'Base' — define ordinary methods only",
        ),
        (
            "def hook(cls):\n    pass\n\nclass Base:\n    __init_subclass__ = hook\n\n"
            "def add(a, b):\n    return a + b\n",
            "line 5: 'Base.__init_subclass__' runs code on import when a class or annotation "
            "uses 'Base' — define ordinary methods only",
        ),
        (
            "import enum\n\nclass Mode(enum.Enum):\n    def _generate_next_value_(n, s, c, l):\n"
            "        return 1\n    ON = enum.auto()\n\ndef add(a, b):\n    return a + b\n",
            "line 4: 'Mode._generate_next_value_' runs code on import when a class or "
            "annotation uses 'Mode' — define ordinary methods only",
        ),
        (
            "import enum\n\nclass Mode(enum.Enum):\n    def __init__(self, *args):\n"
            "        setup()\n    ON = 1\n\ndef add(a, b):\n    return a + b\n",
            "line 4: 'Mode' derives from enum.Enum, whose metaclass may call 'Mode.__init__' "
            "for its attributes on import (as an enum's does) — give it no class attributes, "
            "or derive it from a plain class",
        ),
        (
            "class Box:\n    def size(self, n=setup()):\n        return n\n\n"
            "def add(a, b):\n    return a + b\n",
            f"line 2: a default value of 'size' (setup()){IMPORT_TAIL}",
        ),
        (
            "class Box:\n    class Inner:\n        setup()\n\ndef add(a, b):\n    return a + b\n",
            "line 3: a class body's call to setup() runs code on import — keep only "
            "definitions and constant attributes in a class body",
        ),
    ],
)
def test_code_that_runs_on_import_inside_definitions_is_refused(code: str, problem: str) -> None:
    result = chat(f"```python\n{code}```")
    assert result.problems == (problem,)
    assert not result.ok


def test_definitions_that_only_build_values_are_kept() -> None:
    code = (
        "import abc\n"
        "import functools\n"
        "from collections import namedtuple\n"
        "from dataclasses import dataclass, field\n"
        "from enum import Enum, auto\n"
        "from typing import Optional\n"
        "\n\n@dataclass(frozen=True)\nclass Point:\n"
        '    """A point."""\n\n    x: int = 0\n    tags: list[str] = field(default_factory=list)\n'
        "\n\nclass Color(Enum):\n    RED = auto()\n"
        "\n\nclass Pair(namedtuple('Pair', 'a b')):\n    pass\n"
        "\n\nclass Shape(metaclass=abc.ABCMeta):\n    @property\n    def area(self) -> int:\n"
        "        return 0\n\n    @area.setter\n    def area(self, value: int) -> None:\n"
        "        pass\n\n    @staticmethod\n    def unit(n: Optional[int] = None) -> int:\n"
        "        return 1\n"
        "\n\n@functools.lru_cache(maxsize=None)\n"
        "def _scaled(a: int, scale: float = -1.0, *, keys=frozenset({1})) -> int | None:\n"
        "    return a\n"
        "\n\n@functools.lru_cache(maxsize=None)\n"
        "def add(a: int, b: int) -> int | None:\n"
        "    return _scaled(a) + b\n"
    )
    assert chat(f"```python\n{code}```") == Extracted(True, code, ())


TAMPER_TAIL = "; a function may only compute its result from its arguments"
WHERE = "reads where or how the process runs, which tells a test from a program"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            "import sys\n    return sys._getframe(1).f_locals['expected']",
            [
                "line 2: `sys._getframe` reads the call stack",
                "line 2: `.f_locals` reads the call stack",
            ],
        ),
        (
            "import inspect\n    return inspect.stack()",
            ["line 1: imports inspect, which reads the call stack and the tests' source"],
        ),
        (
            "import sys\n    sys.modules['x'] = None",
            [
                "line 2: `sys.modules` reaches the other loaded modules",
                "line 2: rewrites the module sys, which the tests rely on",
            ],
        ),
        (
            "import sys as s\n    s.settrace(None)",
            ["line 2: `sys.settrace` traces the test harness"],
        ),
        ("from sys import _getframe", ["line 1: `from sys import _getframe` reads the call stack"]),
        ("import gc", ["line 1: imports gc, which reaches every object of the test process"]),
        ("import ctypes", ["line 1: imports ctypes, which writes the test process's memory"]),
        ("import atexit", ["line 1: imports atexit, which runs code after the function returned"]),
        # modules that run a program wherever they are imported: a user's program too
        (
            "import antigravity",
            ["line 1: imports antigravity, which runs a program when it is imported"],
        ),
        (
            "import unittest.__main__",
            ["line 1: imports unittest.__main__, which runs a program when it is imported"],
        ),
        (
            "from venv import __main__",
            ["line 1: imports venv.__main__, which runs a program when it is imported"],
        ),
        (
            "import __hello__",
            ["line 1: imports __hello__, which runs a program when it is imported"],
        ),
        ("import posix", ["line 1: imports posix, which forks and signals processes"]),
        ("import os\n    os.fork()", ["line 2: `os.fork` forks, signals or ends the test process"]),
        (
            "import os\n    os._exit(0)",
            ["line 2: `os._exit` forks, signals or ends the test process"],
        ),
        (
            "import os\n    os.kill(1, 9)",
            ["line 2: `os.kill` forks, signals or ends the test process"],
        ),
        (
            "import os\n    os.setsid()",
            ["line 2: `os.setsid` forks, signals or ends the test process"],
        ),
        (
            "import os\n    return os.environ['OPENAI_API_KEY']",
            ["line 2: `os.environ` reads the environment"],
        ),
        (
            "from os import getenv\n    return getenv('HOME')",
            ["line 1: `from os import getenv` reads the environment"],
        ),
        (
            "import builtins",
            ["line 1: imports builtins, which can replace functions the tests rely on"],
        ),
        (
            "__builtins__['len'] = None",
            ["line 1: `__builtins__` can replace functions the tests rely on"],
        ),
        ("return globals()", ["line 1: `globals` reads or rewrites the module's globals"]),
        (
            "import math\n    return vars(math)",
            ["line 2: `vars(math)` reads or rewrites a module's globals"],
        ),
        ("return __import__('os')", ["line 1: `__import__` imports modules by name"]),
        ("import importlib", ["line 1: imports importlib, which loads modules by name"]),
        ("import _pytest.reports", ["line 1: imports _pytest, which reaches the test harness"]),
        ("from pytest import approx", ["line 1: imports pytest, which reaches the test harness"]),
        (
            "import signal",
            ["line 1: imports signal, which changes how the test process handles its time limit"],
        ),
        ("import subprocess", ["line 1: imports subprocess, which starts other programs"]),
        (
            "import multiprocessing",
            ["line 1: imports multiprocessing, which starts other processes"],
        ),
        (
            "import threading",
            ["line 1: imports threading, which runs code after the function returned"],
        ),
        (
            "import faulthandler",
            ["line 1: imports faulthandler, which dumps the test process's state"],
        ),
        (
            "from marshalike import verify_plugin",
            ["line 1: imports marshalike, which reaches the compiler that checks this code"],
        ),
        (
            "return open('/proc/1/environ').read()",
            ["line 1: a string names /proc, where the test process can be read"],
        ),
        (
            "return ().__class__.__base__.__subclasses__()",
            [
                "line 1: `.__base__` reaches classes of the test process",
                "line 1: `.__subclasses__` reaches every class of the test process",
            ],
        ),
        (
            "return add.__globals__",
            ["line 1: `.__globals__` reaches a module's globals through a function"],
        ),
        ("add.__code__ = None", ["line 1: `.__code__` reads or replaces a function's code"]),
        (
            "return a.__class__.__dict__",
            ["line 1: `.__dict__` on an object's internals reaches classes of the test process"],
        ),
        (
            "import sys\n    return sys.__dict__",
            ["line 2: `sys.__dict__` reads or rewrites the module's globals"],
        ),
        ("a.__class__ = int", ["line 1: assigning `__class__` disguises a value's type"]),
        (
            "import keyword\n    keyword.kwlist.append('add')",
            ["line 2: changes a table of the module keyword in place"],
        ),
        (
            "from keyword import kwlist\n    kwlist.extend(['add'])",
            ["line 2: changes a table of the module keyword in place"],
        ),
        (
            "import mimetypes\n    mimetypes.types_map['.x'].__iadd__('y')",
            ["line 2: changes a table of the module mimetypes in place"],
        ),
        (
            "return __file__",
            [f"line 1: `__file__` {WHERE}"],
        ),
        (  # a name spelled as a string is a name: the attribute it reads is refused
            "import os\n    return getattr(os, 'getcwd')()",
            [f"line 2: `.getcwd` {WHERE}"],
        ),
        (
            "import sys\n    return object.__getattribute__(sys, 'flags')",
            [f"line 2: `sys.flags` {WHERE}"],
        ),
        (  # a name imported from its module is read as the module's attribute
            "from os import getcwd\n    return getcwd()",
            [f"line 1: `from os import getcwd` {WHERE}"],
        ),
        (
            "import os\n    return os.path.expanduser('~')",
            ["line 2: `.expanduser` reads the environment"],
        ),
        (
            "from tempfile import gettempdir\n    return gettempdir()",
            ["line 1: `from tempfile import gettempdir` reads the environment"],
        ),
        ("import sys\n    return sys.path[0]", [f"line 2: `sys.path` {WHERE}"]),
        (
            "import sys\n    return sys.dont_write_bytecode",
            [f"line 2: `sys.dont_write_bytecode` {WHERE}"],
        ),
        (
            "import socket\n    return socket.gethostname()",
            [f"line 2: `socket.gethostname` {WHERE}"],
        ),
        ("import os\n    return os.uname().nodename", [f"line 2: `os.uname` {WHERE}"]),
        ("import os\n    return os.getuid()", [f"line 2: `os.getuid` {WHERE}"]),
        (
            "from platform import node\n    return node()",
            [f"line 1: `from platform import node` {WHERE}"],
        ),
        (
            "import locale\n    return locale.getlocale()",
            ["line 2: `locale.getlocale` reads the environment"],
        ),
        (
            "import resource\n    return resource.getrlimit(0)",
            [
                "line 1: imports resource, which reads the process's limits, which tell a test "
                "from a program"
            ],
        ),
        (
            "import site\n    return site.ENABLE_USER_SITE",
            [
                "line 1: imports site, which reads where and how Python was started, which "
                "tells a test from a program"
            ],
        ),
        (
            "import operator\n    return operator.attrgetter('f_back.f_locals')(a)",
            ["line 2: `.f_back` reads the call stack", "line 2: `.f_locals` reads the call stack"],
        ),
    ],
)
def test_code_that_reaches_its_harness_is_refused(body: str, why: list[str]) -> None:
    code = f"def add(a, b):\n    {body}\n    return a + b\n"
    result = chat(f"```python\n{code}```")
    assert result.problems == tuple(f"line {int(w[5]) + 1}{w[6:]}{TAMPER_TAIL}" for w in why)


@pytest.mark.parametrize("call", ["getattr()", "a.__getattribute__()", "hasattr('x')"])
def test_a_call_by_name_with_too_few_arguments_is_read_not_crashed_on(call: str) -> None:
    """The code's own TypeError when it runs; reading it must not end the compile."""
    code = f"def add(a, b):\n    {call}\n    return a + b\n"
    assert chat(f"```python\n{code}```") == Extracted(True, code, ())


def test_ordinary_uses_of_sys_os_and_dunders_are_kept() -> None:
    code = (
        "import os\nimport sys\n\n\ndef add(a, b):\n"
        "    sys.setrecursionlimit(10000)\n"
        "    a.append(sorted(os.path.split('a/b')).pop())\n"
        "    name = os.path.join('a', 'b') + a.__class__.__name__ + type(a).__qualname__\n"
        "    return vars(a) if hasattr(a, '__dict__') else a + b + sys.maxsize * 0\n"
    )
    assert chat(f"```python\n{code}```") == Extracted(True, code, ())


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("json.decoder.JSONDecodeError = ValueError", "rewrites the module json"),
        ("setattr(json, 'loads', len)", "rewrites the module json"),
        ("ValueError.__module__ = 'json.decoder'", "passes one class off as another"),
        ("setattr(KeyError, '__qualname__', 'X')", "passes one class off as another"),
        (
            "from json import decoder; decoder.JSONDecodeError = ValueError",
            "rewrites the module json.decoder",
        ),
        (
            "E = type('E', (ValueError,), {'__module__': 'json.decoder'})",
            "passes one class off as another",
        ),
    ],
)
def test_rewriting_a_module_or_a_class_name_is_refused(line: str, said: str) -> None:
    result = chat(f"```python\nimport json\n\n\ndef add(a, b):\n    {line}\n    return a + b\n```")
    assert not result.ok and any(said in p for p in result.problems), result.problems


def test_a_call_rebinding_a_function_of_its_module_is_refused() -> None:
    """`global add` in a function lets a call hand later callers another function, while
    everyone who imported the first keeps it; a global of another name is kept."""
    code = (
        "_count = 0\n\n\ndef add(a, b):\n    global add, _count\n    _count += 1\n"
        "    add = _other\n    return a + b\n\n\ndef _other(a, b):\n    return 0\n"
    )
    result = chat(f"```python\n{code}```")
    why = "line 5: `global add` lets a call rebind what the module defines as add"
    assert result.problems == (why + TAMPER_TAIL,)
    kept = "_count = 0\n\n\ndef add(a, b):\n    global _count\n    _count += 1\n    return a + b\n"
    assert chat(f"```python\n{kept}```").ok


def test_a_global_the_code_does_not_define_is_refused() -> None:
    """`global _FACTOR` where another function's code defines `_FACTOR`: a call of this
    one would change what the other computes ever after."""
    code = "def add(a, b):\n    global _FACTOR\n    _FACTOR = 3\n    return a + b\n"
    result = chat(f"```python\n{code}```")
    why = "line 2: `global _FACTOR` rebinds a name this code does not define"
    assert result.problems == (why + TAMPER_TAIL,)


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (
            "try:\n    from json import nothing\nexcept (_arm() or ImportError):\n    pass\n\n"
            "def add(a, b):\n    return a + b\n",
            "line 3: an except clause's exception (_arm() or ImportError) runs code on import "
            "— use only constants, names and containers there",
        ),
        (
            "import enum\n\nclass Mode(enum.Enum):\n    PLAIN = 1\n\n"
            "    def __setattr__(self, name, value):\n"
            "        object.__setattr__(self, name, value)\n\n\ndef add(a, b):\n    return a + b\n",
            "line 6: 'Mode' derives from enum.Enum, whose metaclass may call "
            "'Mode.__setattr__' for its attributes on import (as an enum's does) — give it no "
            "class attributes, or derive it from a plain class",
        ),
    ],
)
def test_an_except_clause_and_an_enum_s_attribute_hooks_run_nothing_on_import(
    code: str, problem: str
) -> None:
    assert chat(f"```python\n{code}```").problems == (problem,)


@pytest.mark.parametrize(
    "top",
    [
        "[hashlib][0].sha256 = hashlib.sha1",  # rewrites a module
        '__name__ = "__main__"',  # the module would run its command line on import
        '__all__ = ["add", "sorted"]',  # what `from m import *` brings
        "_READY = _Setup.ready",  # a class property runs
        "_L = str(_Mode.ON)",  # an enum member's __str__ runs
        "_N = _Mode.ON + 1",  # and its __add__
        "_S = {_Mode.ON}",  # and its __hash__
    ],
)
def test_the_top_level_only_names_the_code_s_own_objects_and_binds_plain_names(top: str) -> None:
    code = (
        "import enum\nimport hashlib\n\n\nclass _Setup:\n    @classmethod\n    @property\n"
        "    def ready(cls):\n        return True\n\n\nclass _Mode(enum.Enum):\n    ON = 1\n\n"
        f"\n{top}\n\n\ndef add(a, b):\n    return a + b\n"
    )
    assert not chat(f"```python\n{code}```").ok


def test_naming_the_code_s_own_objects_alone_is_allowed() -> None:
    code = (
        "class _Setup:\n    pass\n\n\n_KINDS = (_Setup, [_Setup], {'setup': _Setup})\n"
        "_ALIAS = _Setup\n\n\ndef add(a, b: list[_Setup] = None):\n    return a + b\n"
    )
    result = chat(f"```python\n{code}```")
    assert result.ok, result.problems
