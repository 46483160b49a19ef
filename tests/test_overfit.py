"""The probe gate's signs of code fitted to its examples: crashes, refusals, special cases,
returns of example outputs, tables of them; and `static_sign`, which adds the description's
promises."""

from __future__ import annotations

import pytest

from marshalike.gate import overfit
from marshalike.gate.consensus import NO_OUTPUT, ProbeOutcome
from marshalike.gate.overfit import speaks_of, special_case, static_sign
from marshalike.language.parse import parse
from marshalike.language.spec import Func


def func(text: str) -> Func:
    module = parse(text, "unit.mrsh").module
    assert module is not None
    return module.funcs[0]


IS_EVEN = func("# func is_even(an integer): whether it is even\n\n* is_even(4) = True\n"
               "* is_even(7) = False\n")  # fmt: skip


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("if 4 < n:\n        return False\n    return True",
         "it special-cases 4, an argument of the examples: `4 < n`"),
        ("return n != 7", "it special-cases 7, an argument of the examples: `n != 7`"),
        ("return 0 < n <= 4", "it special-cases 4, an argument of the examples: `0 < n <= 4`"),
        ("return n + 1 == 7 or n - 1 == 7", None),  # arithmetic with constants: not a case
        ("return n % 2 == 0", None),
        ("return n < 0 or n % 2 == 0", None),  # 0 is no example's argument
        ("return abs(n) == 3", None),
        ("m = 4\n    return m == n", None),  # a local name, not a constant
    ],
)  # fmt: skip
def test_special_cases_of_example_values(body: str, reason: str | None) -> None:
    assert special_case(f"def is_even(n):\n    {body}\n", IS_EVEN) == reason


def test_a_value_the_description_names_may_be_compared() -> None:
    spec = "# func big(an integer): whether it is above 10\n\n* big(10) = False\n* big(11) = True\n"
    assert special_case("def big(n):\n    return n > 10\n", func(spec)) is None
    unnamed = spec.replace("above 10", "large")
    assert special_case("def big(n):\n    return n > 10\n", func(unnamed)) == (
        "it special-cases 10, an argument of the examples: `n > 10`"
    )


def test_neutral_values_strings_and_negatives() -> None:
    spec = ("# func f(an integer, a string): a string\n\n* f(0, 'a') = 'x'\n* f(-5, 'stop') = 'y'\n"
            "* f(2, '') = 'z'\n")  # fmt: skip
    target = func(spec)
    assert special_case("def f(n, s):\n    return n == 0 or s == '' or n < 2 or s == 'a'\n",
                        target) is None  # fmt: skip
    assert special_case("def f(n, s):\n    return s == 'stop'\n", target) == (
        "it special-cases 'stop', an argument of the examples: `s == 'stop'`"
    )
    assert special_case("def f(n, s):\n    return n <= -5\n", target) == (
        "it special-cases -5, an argument of the examples: `n <= -5`"
    )
    assert special_case("def f(n, s):\n    return n <= \n", target) is None  # not Python
    assert special_case("def g(n, s):\n    return n == -5\n", target) is None  # not f


AVERAGE = func("# func average(a list of numbers): a float\n\nThe mean.\n\n* average([2]) = 2.0\n")
CALLS = ("average([])", "average([3])", "average([2, 2])")
MEAN = "def average(numbers):\n    return sum(numbers) / len(numbers)\n"


def crash(func: Func, code: str, calls: tuple[str, ...], found: tuple[ProbeOutcome, ...]):
    """What `overfit.crash` says happened, having checked it names the call it happened on."""
    crashed = overfit.crash(func, code, calls, found)
    if crashed is None:
        return None
    call, said = crashed
    assert said.startswith(f"{call} raised ") and call in calls
    return said


def test_the_spec_speaks_of_an_edge_input_where_its_words_name_that_kind() -> None:
    assert not speaks_of(AVERAGE, "average([])")  # "The mean." says nothing of []
    said = func("# func average(a list of numbers): a float\n\n0.0 for an empty list.\n\n"
                "* average([2]) = 2.0\n")  # fmt: skip
    assert speaks_of(said, "average([])")
    assert not speaks_of(said, "average([3])")  # not an edge value
    root = func(
        "# func root(x: float): float\n\nNegative numbers have none.\n\n* root(4.0) = 2.0\n"
    )
    assert speaks_of(root, "root(-4.0)") and not speaks_of(root, "root(0.0)")
    assert speaks_of(root, "root(x=-1)")  # keywords too
    assert not speaks_of(root, "root(*xs)")  # not a plain call


def outcomes(*pairs: tuple[str, str]) -> tuple[ProbeOutcome, ...]:
    return tuple(ProbeOutcome(output, message) for output, message in pairs)


def test_the_first_programming_error_is_the_crash() -> None:
    found = outcomes(("3", ""), ("raises IndexError", "list index out of range"),
                     ("raises KeyError", "'x'"))  # fmt: skip
    assert (
        crash(AVERAGE, MEAN, CALLS, found)
        == "average([3]) raised IndexError: list index out of range"
    )
    bare = outcomes(("raises RecursionError", ""), ("3", ""), ("3", ""))
    assert crash(AVERAGE, MEAN, CALLS, bare) == "average([]) raised RecursionError"


def test_timeouts_values_and_errors_of_library_calls_are_no_crash() -> None:
    quiet = outcomes(("timeout", ""), (NO_OUTPUT, ""), ("raises ValueError", "empty list"))
    assert crash(AVERAGE, MEAN, CALLS, quiet) is None
    custom = outcomes(("raises EmptyError", ""), ("raises StopIteration", ""), ("2", ""))
    assert crash(AVERAGE, MEAN, CALLS, custom) is None


def test_math_domain_errors_unless_the_function_promises_value_errors() -> None:
    domain = outcomes(("raises ValueError", "math domain error"), ("3", ""), ("2", ""))
    assert crash(AVERAGE, MEAN, CALLS, domain) == "average([]) raised ValueError: math domain error"
    promised = func("# func average(a list of numbers): a float\n\nRaises ValueError when it "
                    "is empty.\n\n* average([2]) = 2.0\n")  # fmt: skip
    assert crash(promised, MEAN, CALLS, domain) is None
    division = outcomes(("raises ZeroDivisionError", "division by zero"), ("3", ""), ("2", ""))
    assert (
        crash(promised, MEAN, CALLS, division)
        == "average([]) raised ZeroDivisionError: division by zero"
    )
    anything = func("# func average(a list of numbers): a float\n\nIt raises an error for an "
                    "empty list.\n\n* average([2]) = 2.0\n")  # fmt: skip
    assert crash(anything, MEAN, CALLS, division) is None


def test_an_example_that_expects_the_exception_allows_it() -> None:
    shown = func("# func average(a list of numbers): a float\n\nThe mean.\n\n"
                 "* average([2]) = 2.0\n* average([]) raises ZeroDivisionError\n")  # fmt: skip
    division = outcomes(("raises ZeroDivisionError", "division by zero"), ("3", ""), ("2", ""))
    assert crash(shown, MEAN, CALLS, division) is None


REFUSES = "def average(numbers):\n    if not numbers:\n        raise ValueError('empty list')\n"
EMPTY = outcomes(("raises ValueError", "empty list"), ("3.0", ""), ("2.0", ""))


def test_a_refusal_by_the_codes_own_raise_is_a_sign_where_no_error_is_promised() -> None:
    assert crash(AVERAGE, REFUSES, CALLS, EMPTY) == (
        "average([]) raised ValueError: empty list, though the description promises no error"
    )
    bare = REFUSES.replace("ValueError('empty list')", "ValueError")  # raised as a bare name
    assert crash(AVERAGE, bare, CALLS, outcomes(("raises ValueError", ""), ("3", ""), ("2", "")))
    # The same error from a library call (max([])) is no refusal of the code's own.
    assert crash(AVERAGE, MEAN, CALLS, EMPTY) is None
    custom = REFUSES.replace("ValueError('empty list')", "EmptyError()")
    assert crash(AVERAGE, custom, CALLS, EMPTY) is None  # raises ValueError, not EmptyError


@pytest.mark.parametrize(
    "description",
    [
        "Raises ValueError for an empty list.",  # promised
        "The mean of a non-empty list.",  # its inputs are restricted
        "The mean. Assume the list has numbers.",
        "The mean; the list must hold one number at least.",
    ],
)
def test_a_refusal_is_allowed_where_the_description_promises_or_restricts(description: str) -> None:
    spec = func(f"# func average(a list of numbers): a float\n\n{description}\n\n"
                "* average([2]) = 2.0\n")  # fmt: skip
    assert crash(spec, REFUSES, CALLS, EMPTY) is None


EMAIL = func(
    "# func is_valid_email(a string): a boolean\n\nTrue when the address has exactly one @ and a"
    " dot in its domain.\n\n* is_valid_email('ann@example.com') = True\n"
    "* is_valid_email('no-at-sign') = False\n"
)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("return not address.startswith('no-at')",
         "it looks for 'no-at', part of an argument of the examples: "
         "`address.startswith('no-at')`"),
        ("return 'example' in address",
         "it looks for 'example', part of an argument of the examples: "
         "`'example' in address`"),
        ("return address.lower().endswith(('.org', '.com'))",
         "it looks for '.com', part of an argument of the examples: "
         "`address.lower().endswith(('.org', '.com'))`"),
        ("return address.find('no-at-sign') < 0",
         "it special-cases 'no-at-sign', an argument of the examples: "
         "`address.find('no-at-sign')`"),
        ("return address.count('@') == 1 and '.' in address.split('@')[-1]", None),
        ("return 'an' in address", None),  # two characters: too likely a coincidence
        ("return 'xyz' in address", None),  # in no example
        ("suffix = 'sign'\n    return not address.endswith(suffix)", None),  # not a constant
        ("return 'no-at' in 'no-at-sign'", None),  # searches no parameter
    ],
)  # fmt: skip
def test_searches_for_pieces_of_example_strings(body: str, reason: str | None) -> None:
    assert special_case(f"def is_valid_email(address):\n    {body}\n", EMAIL) == reason


def test_a_piece_the_description_names_may_be_searched_for() -> None:
    spec = ("# func is_secure(a string): a boolean\n\nTrue when the link starts with https.\n\n"
            "* is_secure('https://a.io') = True\n* is_secure('http://a.io') = False\n")  # fmt: skip
    code = "def is_secure(link):\n    return link.startswith('https')\n"
    assert special_case(code, func(spec)) is None
    unnamed = spec.replace("starts with https", "is encrypted")
    assert special_case(code, func(unnamed)) == (
        "it looks for 'https', part of an argument of the examples: `link.startswith('https')`"
    )


XOR = func("# func string_xor(a string, a string): a string\n\nBinary XOR of two strings of "
           "1s and 0s.\n\n* string_xor('010', '110') = '100'\n"
           "* string_xor('1', '1') = '0'\n")  # fmt: skip


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("return '100'", "it returns '100', an output of the examples, as is: `return '100'`"),
        ("output = '100'\n    if a:\n        return output\n    return ''",
         "it returns '100', an output of the examples, as is: `return output`"),
        ("return '0'", None),  # one character: neutral
        ("return '111'", None),  # no example's output
        ("out = '100'\n    out += a\n    return out", None),  # not a constant any more
        ("out = '100'\n    out = a\n    return out", None),
        ("for out in (a, b):\n        pass\n    return out", None),
        ("return ''.join('1' if x != y else '0' for x, y in zip(a, b))", None),
    ],
)  # fmt: skip
def test_returns_of_example_outputs(body: str, reason: str | None) -> None:
    assert special_case(f"def string_xor(a, b):\n    {body}\n", XOR) == reason


def test_an_output_the_description_names_may_be_returned() -> None:
    spec = ("# func fizz(an integer): a string\n\n'Fizz' for multiples of three, else the "
            "number.\n\n* fizz(3) = 'Fizz'\n* fizz(4) = '4'\n")  # fmt: skip
    code = "def fizz(n):\n    if n % 3 == 0:\n        return 'Fizz'\n    return str(n)\n"
    assert special_case(code, func(spec)) is None
    assert special_case(code, func(spec.replace("'Fizz' for", "A word for"))) == (
        "it returns 'Fizz', an output of the examples, as is: `return 'Fizz'`"
    )


ADD = func("# func add(an integer, an integer): an integer\n\nThe sum.\n\n* add(1, 2) = 3\n"
           "* add(-4, 4) = 0\n* add(10, -3) = 7\n")  # fmt: skip
DAY = func("# func day_name(an integer): a string\n\nThe English name of day n of the week, "
           "Monday being 1.\n\n* day_name(3) = 'Wednesday'\n* day_name(5) = 'Friday'\n"
           "* day_name(1) = 'Monday'\n")  # fmt: skip
TABLE = "it keeps the examples' answers in a table: `{}`"


@pytest.mark.parametrize(
    ("code", "spec", "reason"),
    [
        ("_T = {(1, 2): 3, (-4, 4): 0, (10, -3): 7}\n\ndef add(a, b):\n"
         "    return _T.get((a, b), a - b)\n", ADD,
         TABLE.format("{(1, 2): 3, (-4, 4): 0, (10, -3): 7}")),
        ("def add(a, b):\n    return {(10, -3): 7, (-4, 4): 0, (9, 9): 1}.get((a, b), 0)\n",
         ADD, TABLE.format("{(10, -3): 7, (-4, 4): 0, (9, 9): 1}")),
        # one entry of the examples only, or a table that mostly holds other entries
        ("def add(a, b):\n    return {(10, -3): 7}.get((a, b), a - b)\n", ADD, None),
        ("def add(a, b):\n    return {(10, -3): 7, (-4, 4): 0, (5, 5): 10, (6, 6): 12, "
         "(7, 7): 14}.get((a, b), a + b)\n", ADD, None),
        # the description's own table holds more than its examples show
        ("NAMES = {1: 'Monday', 2: 'Tuesday', 3: 'Wednesday', 4: 'Thursday', 5: 'Friday', "
         "6: 'Saturday', 7: 'Sunday'}\n\ndef day_name(n):\n    return NAMES[n]\n", DAY, None),
        ("def day_name(n):\n    return {3: 'Wednesday', 5: 'Friday'}.get(n, 'Monday')\n", DAY,
         TABLE.format("{3: 'Wednesday', 5: 'Friday'}")),
    ],
)  # fmt: skip
def test_a_table_of_the_examples_answers(code: str, spec: Func, reason: str | None) -> None:
    assert special_case(code, spec) == reason


def test_static_sign_adds_the_description_s_promises() -> None:
    spec = ("# func same(a string): a boolean\n\nTrue when the word is a palindrome, ignoring "
            "case.\n\n* same('level') = True\n* same('hello') = False\n")  # fmt: skip
    verbatim = "def same(w):\n    return w == w[::-1]\n"
    assert special_case(verbatim, func(spec)) is None
    assert static_sign(verbatim, func(spec)) == (
        "the description says case does not matter, and the code never changes case"
    )
    assert static_sign("def same(w):\n    return w != 'hello'\n", func(spec)) == (
        "it special-cases 'hello', an argument of the examples: `w != 'hello'`"
    )
    assert static_sign("def same(w):\n    w = w.lower()\n    return w == w[::-1]\n",
                       func(spec)) is None  # fmt: skip


def test_the_output_of_a_base_case_may_be_returned() -> None:
    spec = ("# func words(an integer, a list of strings, a boolean): a string\n\nThe number in "
            "English words.\n\n* words(0, [], False) = 'zero'\n* words(21, ['x'], True) = "
            "'twenty-one'\n")  # fmt: skip
    base = "def words(n, extra, loud):\n    if n == 0:\n        return 'zero'\n    return str(n)\n"
    assert special_case(base, func(spec)) is None  # every argument of words(0, ...) is neutral
    canned = "def words(n, extra, loud):\n    return 'twenty-one'\n"
    assert special_case(canned, func(spec)) == (
        "it returns 'twenty-one', an output of the examples, as is: `return 'twenty-one'`"
    )
