"""The verdict channel's values: exact comparison, rendering and canonical text, read from
tagged plain data only."""

from __future__ import annotations

import threading

import pytest

from marshalike.sandbox import channel
from marshalike.sandbox.channel import Raised
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.values import canonical, mismatch, render, same, well_formed


def i(n: int) -> list:
    return ["int", format(n, "x")]


def f(x: float) -> list:
    return ["float", x.hex()]


def s(text: str) -> list:
    return ["str", text]


def c(real: float, imag: float) -> list:
    return ["complex", real.hex(), imag.hex()]


def dec(text: str) -> list:
    return ["value", "decimal.Decimal", f"Decimal({text!r})"]


# 02:30 in Paris the night it is there twice, in a zone object of the code's own.
OWN_ZONE = [
    "value",
    "datetime.datetime at UTC+datetime.timedelta(seconds=7200) in a zone object of its own",
    "datetime.datetime(2024, 10, 27, 2, 30, tzinfo=zoneinfo.ZoneInfo(key='Europe/Paris'))",
]


@pytest.mark.parametrize(
    "actual, expected, equal",
    [
        (i(3), i(3), True),
        (i(-3), i(3), False),
        (["bool", True], i(1), False),
        (i(1), ["bool", True], False),
        (f(0.1 + 0.2), f(0.3), True),
        (f(float("nan")), f(float("nan")), False),
        (f(float("inf")), f(float("inf")), True),
        (i(3), f(3.0), True),  # an int stands for a float
        (f(3.0), i(3), False),  # not the other way round, unless the spec declares a float
        (["list", [i(1), i(2)]], ["list", [i(1), i(2)]], True),
        (["tuple", [i(1), i(2)]], ["list", [i(1), i(2)]], False),
        (["list", [i(1)]], ["list", [i(1), i(2)]], False),
        (["set", [s("b"), s("a")]], ["set", [s("a"), s("b")]], True),
        (["frozenset", [s("a")]], ["set", [s("a")]], False),
        (["dict", [[s("x"), f(1.0000000001)]]], ["dict", [[s("x"), f(1.0)]]], True),
        (["dict", [[s("x"), i(1)]]], ["dict", [[s("y"), i(1)]]], False),
        (["record", "P", [["a", i(1)]]], ["record", "P", [["a", i(1)]]], True),
        (["record", "Q", [["a", i(1)]]], ["record", "P", [["a", i(1)]]], False),
        (["object", "m.Eq", "builtins.object"], i(3), False),
        (["object", "m.MyInt", "builtins.int"], i(3), False),
        (["None"], ["None"], True),
        (["None"], i(0), False),
        # set members and dict keys are equal where `==` has them so: -0.0 in a complex
        # number's parts too, a Decimal by its number; NaN, or a datetime in a fold of a
        # zone object of its own, matches nothing
        (["set", [c(0.0, -0.0)]], ["set", [c(0.0, 0.0)]], True),
        (["set", [["tuple", [c(-0.0, 1.0)]]]], ["set", [["tuple", [c(0.0, 1.0)]]]], True),
        (["set", [dec("1.00")]], ["set", [dec("1.0")]], True),
        (["set", [dec("-0")]], ["set", [dec("0.000")]], True),
        (["set", [dec("1E+2")]], ["set", [dec("100")]], True),
        (["set", [dec("-Infinity")]], ["set", [dec("Infinity")]], False),
        (["set", [dec("1" * 40)]], ["set", [dec("1" * 39 + "2")]], False),
        (["dict", [[dec("2.50"), i(1)]]], ["dict", [[dec("2.5"), i(1)]]], True),
        (["set", [dec("NaN")]], ["set", [dec("NaN")]], False),
        (
            ["set", [["frozenset", [f(float("nan"))]]]],
            ["set", [["frozenset", [f(float("nan"))]]]],
            False,
        ),
        (
            ["dict", [[f(float("nan")), i(1)]], "collections.OrderedDict"],
            ["dict", [[f(float("nan")), i(1)]], "collections.OrderedDict"],
            False,
        ),
        (OWN_ZONE, OWN_ZONE, False),
        (["set", [OWN_ZONE]], ["set", [OWN_ZONE]], False),
        # the two surrogates that encode a character beyond U+FFFF are another str
        (["set", [s("\ud83d\ude00")]], ["set", [s("\U0001f600")]], False),
        (["dict", [[s("\ud83d\ude00"), i(1)]]], ["dict", [[s("\U0001f600"), i(1)]]], False),
    ],
)
def test_same_is_exact_type_and_value(actual: list, expected: list, equal: bool) -> None:
    assert same(actual, expected) is equal


def test_a_float_stands_for_an_int_where_the_spec_declares_a_float() -> None:
    assert same(f(3.0), i(3), int_as_float=True)
    assert not same(f(3.5), i(3), int_as_float=True)


def test_mismatch_names_a_subclass_and_a_foreign_class() -> None:
    assert "subclass of int" in (mismatch(["object", "m.MyInt", "builtins.int"], i(3)) or "")
    assert "m.Eq" in (mismatch(["object", "m.Eq", "builtins.object"], i(3)) or "")


def test_render_is_built_from_the_tags() -> None:
    value = ["list", [i(1), f(2.5), s("a'b"), ["tuple", [i(1)]], ["set", []], ["None"]]]
    assert render(value) == '[1, 2.5, "a\'b", (1,), set(), None]'
    assert render(["record", "P", [["name", s("Jo")], ["age", i(3)]]]) == "P(name='Jo', age=3)"
    assert render(["object", "m.Eq", "builtins.object"]) == "<m.Eq object>"


def test_canonical_rounds_floats_and_sorts_sets_and_dicts() -> None:
    assert canonical(f(2.0)) == "2"
    assert canonical(["set", [s("b"), s("a")]]) == "set{'a','b'}"
    assert canonical(["dict", [[s("y"), i(1)], [s("x"), f(2.0)]]]) == "dict{'x':2,'y':1}"


def test_raised_matches_the_named_exception() -> None:
    lineage = ("builtins.KeyError", "builtins.LookupError", "builtins.Exception",
               "builtins.BaseException")  # fmt: skip
    error = Raised("KeyError", "builtins", lineage, "", "")
    assert error.is_a("KeyError") and error.is_a("LookupError") and error.is_a("Exception")
    assert not error.is_a("ValueError")
    own = Raised("ValueError", "cand", ("cand.ValueError", "builtins.Exception",
                 "builtins.BaseException"), "", "")  # fmt: skip
    assert not own.is_a("ValueError")  # a class of its own that only borrows the name
    exit_ = Raised("SystemExit", "builtins", ("builtins.SystemExit", "builtins.BaseException"),
                   "", "")  # fmt: skip
    assert not exit_.is_a("Exception")


def test_an_error_of_a_name_the_spec_gives_is_of_a_class_called_so() -> None:
    """A name neither Python nor its standard library knows (`raises AgeError`): an error
    whose class, or a base, is called so, wherever the code defines it; not any error."""
    base = ("builtins.Exception", "builtins.BaseException")
    assert Raised("AgeError", "m", ("m.AgeError", *base), "", "").is_a("AgeError")
    local = ("m.parse.<locals>.Bad", "m.parse.<locals>.AgeError", "builtins.ValueError", *base)
    assert Raised("Bad", "m", local, "", "").is_a("AgeError")
    assert Raised("Bad", "m", local, "", "").is_a("errors.AgeError")
    division = ("builtins.ZeroDivisionError", "builtins.ArithmeticError", *base)
    assert not Raised("ZeroDivisionError", "builtins", division, "", "").is_a("AgeError")
    assert not Raised("AgeError", "m", ("m.AgeError", "builtins.BaseException"), "", "").is_a(
        "AgeError"
    )  # not an ordinary error


def test_a_value_s_text_is_one_printable_line_calling_value_types_on_literals() -> None:
    assert well_formed(["value", "decimal.Decimal", "Decimal('1.5')"])
    assert well_formed([
        "value", "datetime.datetime",
        "datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone(datetime.timedelta("
        "seconds=-3600), 'X'))",
    ])  # fmt: skip
    for text in (
        "datetime.datetime(2025, 1, 1, tzinfo=zoneinfo.ZoneInfo.from_file(open('x')))",
        "Decimal(__import__('os').system('true'))",
        "Decimal((lambda: '1')())",
    ):
        assert not well_formed(["value", "decimal.Decimal", text])
    assert not well_formed(["value", "datetime.datetime", "0 #\u2028* f(5) = 26"])
    assert not well_formed(["value", "decimal.Decimal", "Decimal('1')\n"])


def test_malformed_answers_are_refused() -> None:
    assert not well_formed(["int", "zz"])
    assert not well_formed(["list", [["int"]]])
    assert not well_formed(["record", "P", [["a"]]])
    assert not well_formed("3")
    assert well_formed(["dict", [[s("a"), ["list", [i(1)]]]]])


def test_a_str_comes_back_with_each_of_its_characters_as_it_is() -> None:
    """A character beyond U+FFFF, the two surrogates that encode it and a lone surrogate
    are three other strs: JSON's ASCII escapes write the first two alike."""
    source = "def f(n):\n    return [chr(0x1F600), chr(0xD83D) + chr(0xDE00), chr(0xDC80)][n]\n"
    answers, _ = channel.run_calls(
        source, ["f(0)", "f(1)", "f(2)"], module_name="m", limits=Limits(), per_call_s=5
    )
    assert [a.value for a in answers] == [s("\U0001f600"), s("\ud83d\ude00"), s("\udc80")]
    assert not answers[0].same_as(answers[1])


def test_run_calls_answers_in_order_and_survives_a_death() -> None:
    source = "import os\n\ndef f(x):\n    if x == 2:\n        os._exit(3)\n    return x\n"
    answers, problem = channel.run_calls(
        source, ["f(1)", "f(2)", "f(3)"], module_name="m", limits=Limits(), per_call_s=2
    )
    assert problem is None
    assert [a.kind for a in answers] == ["returned", "died", "returned"]
    assert answers[2].value == i(3)


def test_an_import_error_fails_every_call() -> None:
    answers, problem = channel.run_calls(
        "raise ImportError('nope')\n", ["f(1)", "f(2)"], module_name="m", limits=Limits(),
        per_call_s=2,
    )  # fmt: skip
    assert problem is not None and "nope" in problem
    assert [a.kind for a in answers] == ["died", "died"]


VALUE_TYPES = """\
import datetime, decimal, fractions, uuid, zoneinfo


class Zone(datetime.tzinfo):
    def utcoffset(self, when):
        return datetime.timedelta(hours=5)

    def __repr__(self):
        return "datetime.timezone.utc"


class Name(str):
    def __repr__(self):
        return "'UTC')) and 0 #\u2028* f(5) = 26 if 1 else (("


def keyless():  # a zone from a file, without a key: its repr is the file object's
    import io
    with open(zoneinfo.TZPATH[0] + "/UTC", "rb") as handle:
        zone = zoneinfo.ZoneInfo.from_file(io.BytesIO(handle.read()))
    return datetime.datetime(2024, 1, 1, tzinfo=zone)


def rebound():  # zoneinfo.ZoneInfo rebound to a zone of the module's own, with a lying repr
    class Fake(datetime.tzinfo):
        key = "UTC"

        def utcoffset(self, when):
            return datetime.timedelta(0)

        def __repr__(self):
            return "zoneinfo.ZoneInfo(key='UTC')"

    zoneinfo.ZoneInfo = Fake
    return datetime.datetime(2024, 1, 1, tzinfo=Fake())


def zoned(name):
    try:
        return datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo(name))
    except Exception:
        return None
"""


def test_value_types_are_written_by_code_the_module_cannot_change() -> None:
    patch = (
        "\n\ndef lying(value):"  # the value made first, then the classes patched
        "\n    fractions.Fraction.__repr__ = lambda self: 'Fraction(1, 2)'"
        "\n    fractions.Fraction._numerator = property(lambda self: 1)"
        "\n    uuid.UUID.__repr__ = lambda self: 'UUID(0)'"
        "\n    return value\n"
    )
    calls = [
        "fractions.Fraction(3, 4)",
        "uuid.UUID(int=255)",
        "decimal.Decimal('1.50')",
        "datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)",
        "datetime.datetime(2024, 1, 1, tzinfo=Zone())",
        "zoned('UTC')",
        "datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(0), Name('U')))",
        "keyless()",
        "lying(fractions.Fraction(3, 4))",
        "uuid.UUID(int=255)",
        "rebound()",  # last: it rebinds a name of zoneinfo in this process
    ]
    answers, problem = channel.run_calls(
        VALUE_TYPES + patch, calls, module_name="m", limits=Limits(), per_call_s=5
    )
    assert problem is None
    values = [a.value for a in answers]
    assert values[0] == ["value", "fractions.Fraction", "Fraction(3, 4)"]
    assert values[1] == ["value", "uuid.UUID", "UUID('00000000-0000-0000-0000-0000000000ff')"]
    assert values[2] == ["value", "decimal.Decimal", "Decimal('1.50')"]
    assert values[3] == [
        "value", "datetime.datetime",
        "datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)",
    ]  # fmt: skip
    assert values[4] is not None and values[4][0] == "object"  # a zone of the module's own
    # a fixed zone whose name is a str of the module's own, with a repr of its choosing
    assert values[6] is not None and values[6][0] == "object"
    # a ZoneInfo without a key (no time zone data in the sandbox: the call raises)
    assert answers[7].kind == "raised" or values[7] is not None and values[7][0] == "object"
    # Classes written in Python that the code changed: their values would show their
    # callers what the code likes, whatever their state holds.
    assert values[8] is not None and values[8][2] == "(changed)"
    for patched in ("the class fractions.Fraction", "the class uuid.UUID"):
        assert patched in values[8][1].split("; ")
    assert answers[9].kind == "died"  # the process ends after such an answer
    assert values[10] is not None and values[10][0] == "object"
    # A ZoneInfo's offset is part of what is compared (its key alone could be claimed).
    assert values[5] in (
        ["None"],  # no time zone data in the sandbox
        ["value", "datetime.datetime at UTCdatetime.timedelta(0)",
         "datetime.datetime(2024, 1, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))"],
    )  # fmt: skip


def test_the_module_under_test_runs_without_its_docstrings_unless_kept() -> None:
    source = (
        'def f():\n    """>>> f()\n    3\n    """\n    return f.__doc__\n\n\n'
        "def g():\n    return 1 / 0\n"
    )
    calls = ["f()", "g()"]
    hidden, _ = channel.run_calls(source, calls, module_name="m", limits=Limits(), per_call_s=5)
    kept, _ = channel.run_calls(
        source, calls, module_name="m", limits=Limits(), per_call_s=5, keep_docstrings=True
    )
    assert hidden[0].value == ["None"]
    assert kept[0].value == s(">>> f()\n    3\n    ")
    # the lines keep their numbers: the traceback points at g's line either way
    for answers in (hidden, kept):
        raised = answers[1].raised
        assert raised is not None and "line 9, in g" in raised.traceback


def test_text_from_the_sandbox_has_no_control_characters() -> None:
    source = "def f():\n    raise ValueError('\\r\\x1b[2Kok\\x07\\nnext\\tline')\n"
    answers, _ = channel.run_calls(source, ["f()"], module_name="m", limits=Limits(), per_call_s=5)
    raised = answers[0].raised
    assert raised is not None
    assert raised.message == "\\x0d\\x1b[2Kok\\x07\nnext\tline"


def test_a_process_that_stops_reading_its_calls_cannot_hold_the_compiler() -> None:
    """It answers its first call itself, shrinks its request pipe to a page and sleeps
    with the alarm blocked: the next call, longer than the pipe holds, is never read. The
    write gives up at the call's deadline, and the call fails."""
    source = (
        "import fcntl, json, sys, time\n\n\n"
        "def count(text):\n"
        "    main = getattr(sys, 'mod' + 'ules')['__main__']\n"
        "    signals = getattr(sys, 'mod' + 'ules')['sig' + 'nal']\n"
        "    answer = {'id': main.request['id'], 'returned': main.encode(1, 0, [10])}\n"
        "    fcntl.fcntl(main.requests.fileno(), fcntl.F_SETPIPE_SZ, 4096)\n"
        "    main.answers.write(json.dumps(answer).encode() + b'\\n')\n"
        "    main.answers.flush()\n"
        "    signals.pthread_sigmask(signals.SIG_BLOCK, {signals.SIGALRM})\n"
        "    while True:\n"
        "        time.sleep(1000)\n"
    )
    calls = ["count('a')", "count('" + "x " * 40_000 + "')"]
    finished: list[tuple[channel.Answer, ...]] = []
    runner = threading.Thread(
        target=lambda: finished.append(
            channel.run_calls(
                source, calls, module_name="m", limits=Limits(timeout_s=1.0), per_call_s=1.0
            )[0]
        ),
        daemon=True,
    )
    runner.start()
    runner.join(60)
    assert finished, "the verifier was still writing the call after 60 s"
    assert [a.kind for a in finished[0]] == ["returned", "timeout"]


def test_a_value_too_long_to_send_comes_back_as_too_large() -> None:
    """The runner writes "too large" for a value whose line would pass what is read back,
    so a right but huge value fails as a value, and no candidate can make the compiler
    hold lines of megabytes for each of its calls."""
    source = "def f(n):\n    return 'x' * n\n"
    answers, _ = channel.run_calls(
        source, ["f(10)", f"f({channel.ANSWER_BYTES})"], module_name="m", limits=Limits(),
        per_call_s=5,
    )  # fmt: skip
    assert [a.value for a in answers] == [["str", "x" * 10], ["too-large"]]


@pytest.mark.parametrize(
    ("actual", "expected", "same_value"),
    [
        (["set", [["float", (6.0).hex()]]], ["set", [["int", "6"]]], False),
        (["complex", (0.0).hex(), (2.0000008).hex()], ["complex", (0.0).hex(), (2.0).hex()], False),
        (["dict", [], "collections.Counter"], ["dict", []], False),
        (["dict", [], "collections.Counter"], ["dict", [], "collections.Counter"], True),
        # an OrderedDict's order is part of it
        (["dict", [[["str", "b"], ["int", "2"]], [["str", "a"], ["int", "1"]]],
          "collections.OrderedDict"],
         ["dict", [[["str", "a"], ["int", "1"]], [["str", "b"], ["int", "2"]]],
          "collections.OrderedDict"], False),
        # NaN matches nothing, as a set member or a key too; -0.0 is 0.0 there
        (["set", [["float", float("nan").hex()]]], ["set", [["float", float("nan").hex()]]],
         False),
        (["set", [["float", (-0.0).hex()]]], ["set", [["float", (0.0).hex()]]], True),
        # Decimals by value, as `==` has them
        (["value", "decimal.Decimal", "Decimal('1.00')"],
         ["value", "decimal.Decimal", "Decimal('1.0')"], True),
        (["value", "decimal.Decimal", "Decimal('NaN')"],
         ["value", "decimal.Decimal", "Decimal('NaN')"], False),
    ],
)  # fmt: skip
def test_the_verifier_is_as_strict_as_the_generated_tests(
    actual: list, expected: list, same_value: bool
) -> None:
    """Set members by type (`6.0` is not `6`), complex numbers exactly (`==`), and a
    Counter is not a dict: where the generated test file fails a value, so does the
    verifier."""
    assert well_formed(actual) and well_formed(expected)
    assert same(actual, expected) is same_value


def test_a_module_written_into_the_sandbox_folder_never_stands_in_for_the_standard_librarys() -> (
    None
):
    """A `statistics.py` the code writes (with an exception class of its own, to raise as
    `statistics.StatisticsError`), then imports: the standard library's module is found."""
    source = (
        "def f():\n"
        "    with open('statistics.py', 'w') as handle:\n"
        "        handle.write('class StatisticsError(ValueError):\\n    pass\\n')\n"
        "    import statistics\n"
        "    return hasattr(statistics, 'mean')\n"
    )
    answers, _ = channel.run_calls(source, ["f()"], module_name="m", limits=Limits(), per_call_s=5)
    assert answers[0].value == ["bool", True]


# A used module's function rebound: by a call, after it answered right (`quad`), or as the
# module is imported (code the static refusals would not let run, run here all the same),
# before the module's code runs: the used module is watched as the module under test is,
# and held as it was before either.
@pytest.mark.parametrize(
    "source",
    [
        "import good\nfrom good import double\n\n\n"
        "def _half(n):\n    return n // 2\n\n\n"
        "def quad(n):\n    result = double(double(n))\n    box = [good]\n"
        "    setattr(box[0], 'double', _half)\n    return result\n",
        "import good\n\nsetattr(good, 'double', lambda n: n + 1)\n\n\n"
        "def quad(n):\n    return 4 * n\n",
    ],
    ids=["by-a-call", "on-import"],
)
def test_a_used_module_s_function_rebound_answers_nothing_that_counts(source: str) -> None:
    answers, problem = channel.run_calls(
        source, ["quad(1)"], module_name="m", limits=Limits(), per_call_s=5,
        extra_files={"good.py": "def double(n):\n    return 2 * n\n"}, names=["quad"],
    )  # fmt: skip
    assert problem is None
    assert answers[0].value == ["object", "the module good", "(changed)"]


def test_a_call_that_plants_a_key_in_zoneinfo_s_cache_answers_nothing_that_counts() -> None:
    """A key of the cache that runs code when a lookup compares it (a `str` subclass with
    Paris's hash) would run at the writing of the next zone: the call that planted it is
    counted for nothing, before any of its values is written."""
    source = (
        "import datetime\nimport zoneinfo\n\n\n"
        "class _Key(str):\n    def __eq__(self, other):\n        return str.__eq__(self, other)\n\n"
        "    __hash__ = str.__hash__\n\n\n"
        "_held = []\n\n\n"
        "def at(s):\n    _held.append(zoneinfo.ZoneInfo(_Key('Europe/Paris')))\n"
        "    return datetime.datetime.fromtimestamp(s, tz=zoneinfo.ZoneInfo('Europe/Paris'))\n"
    )
    answers, problem = channel.run_calls(
        source, ["at(0)"], module_name="m", limits=Limits(), per_call_s=5, names=["at"]
    )
    assert problem is None
    assert answers[0].value == ["object", "the keys of zoneinfo's cache of zones", "(changed)"]


def test_a_run_has_this_machine_s_local_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Code that reads local time gives in the sandbox what it gives where the generated
    tests run: 0 s after the epoch is 1969 in New York."""
    monkeypatch.setenv("TZ", "America/New_York")
    source = "import datetime\n\n\ndef day(s):\n    return str(datetime.date.fromtimestamp(s))\n"
    answers, problem = channel.run_calls(
        source, ["day(0)"], module_name="m", limits=Limits(), per_call_s=5, names=["day"]
    )
    assert problem is None
    assert answers[0].value == ["str", "1969-12-31"]


def test_a_timeout_too_short_to_start_a_call_is_a_timeout() -> None:
    """An alarm that comes before the call has begun, or as it ends, times the call out:
    it does not end the runner with a traceback for the report."""
    source = "def f(x):\n    return sum(range(10000))\n"
    answers, problem = channel.run_calls(
        source, ["f(1)"] * 3, module_name="m", limits=Limits(timeout_s=1e-5), per_call_s=1
    )
    assert problem is None
    assert [a.kind for a in answers] == ["timeout"] * 3
