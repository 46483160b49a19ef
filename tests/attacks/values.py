"""Values equal to everything: the verifier must compare by exact type and value; and
values or errors that come from somewhere other than the call itself."""

from __future__ import annotations

from attacks.specs import Attack

ALWAYS_EQUAL = """\
class Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def add(a, b):
    return Anything()
"""
INT_EQUAL = """\
class Int(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __hash__(self):
        return 0


def add(a, b):
    return Int(a - b)
"""
INT_REPR = """\
def add(a, b):
    class Shown(int):
        def __repr__(self):
            return str(a + b)

        __str__ = __repr__

        def __format__(self, spec):
            return format(a + b, spec)

    return Shown(a - b)
"""
STR_EQUAL = """\
class Text(str):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __hash__(self):
        return 0


def add(a, b):
    return Text(a - b)
"""
CLASS_LIES = """\
class Disguised:
    @property
    def __class__(self):
        return int

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __index__(self):
        return 0

    __int__ = __index__
    __hash__ = object.__hash__


def add(a, b):
    return Disguised()
"""
NUMPY_LIKE = """\
class _Truthy:
    def __bool__(self):
        return True


class int64:
    __module__ = "numpy"

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return _Truthy()

    def __ne__(self, other):
        return not _Truthy()

    def __index__(self):
        return self.value

    __int__ = __index__
    __hash__ = object.__hash__

    def __repr__(self):
        return repr(self.value)


def add(a, b):
    return int64(a - b)
"""
NAME_LIES = """\
class Int:
    __module__ = "builtins"
    __qualname__ = "int"

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def add(a, b):
    return Int()
"""
BOOL_FOR_INT = """\
def add(a, b):
    total = a + b
    return bool(total) if total in (0, 1) else total
"""
NAN = """\
def add(a, b):
    return float("nan")
"""
DICT_RECORD = """\
class Record(dict):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __getattr__(self, name):
        return self[name]

    __hash__ = object.__hash__


def swap(p):
    return Record(x=p.x, y=p.y)
"""
LIST_EQUAL = """\
class Items(list):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __len__(self):
        return 0

    def __iter__(self):
        return iter(())


def evens(items):
    return Items(items)
"""
LIST_OF_ANYTHING = """\
class Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def evens(items):
    return [Anything() for _ in items[: len(items) // 2]]
"""
RECORD_IMPOSTOR = """\
from dataclasses import dataclass


@dataclass
class Impostor:
    __module__ = "point"
    __qualname__ = "Point"
    x: int
    y: int

    def __eq__(self, other):
        return True


def swap(p):
    return Impostor(p.y, p.x)
"""
TYPE_SHADOWING = """\
from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int

    def __post_init__(self):
        self.x, self.y = self.y, self.x


def swap(p):
    return p
"""

BORROWED_DATE = """\
class date:
    __module__ = "datetime"

    def __init__(self, shown):
        self.shown = shown

    def __repr__(self):
        return self.shown

    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0


def first_of_month(day):
    return date(f"datetime.date({day.year}, {day.month}, 1)")
"""
BORROWED_COUNTER = """\
class Counter(dict):
    __module__ = "collections"

    def __getitem__(self, key):
        return 0

    def get(self, key, default=None):
        return 0

    __eq__ = lambda self, other: True  # noqa: E731


def letter_counts(text):
    found = Counter()
    for letter in text:
        dict.__setitem__(found, letter, dict.get(found, letter, 0) + 1)
    return found
"""
# A dict whose key's slots are rewritten after it went in: the dict holds a key its
# hash no longer finds (`shares([1, 3])[Fraction(3, 4)]` is a KeyError), or two equal
# keys (three entries where two are expected), though its written value is the one
# expected.
_KEY_MOVED = """\
from fractions import Fraction


def shares(numbers):
    total = sum(numbers)
    found = {}
    held = Fraction(-1, 7)
    found[held] = numbers[-1]
    for number in numbers@ALL@:
        found[Fraction(number, total)] = number
    last = Fraction(numbers[-1], total)
    object.__setattr__(held, "_numerator", last.numerator)
    object.__setattr__(held, "_denominator", last.denominator)
    return found
"""
KEY_MISSED = _KEY_MOVED.replace("@ALL@", "[:-1]")
KEY_TWICE = _KEY_MOVED.replace("@ALL@", "")
# The error an example expects, raised where its argument is computed: `half(6)` of
# `half(half(6)) raises ValueError` raises it, and the call itself never runs.
ARGUMENT_RAISES = """\
def half(n):
    if n % 2 or n == 6:
        raise ValueError(n)
    return n // 2
"""
# The same, with a class that answers `__traceback__` with a traceback of its own making,
# which says the error left the call's own code at the call itself.
TRACEBACK_CLAIMED = """\
import sys
import types


def half(n):
    if n % 2 == 0 and n != 6:
        return n // 2
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "<module>":
        frame = frame.f_back
    code = frame.f_code
    ends = [i for i, p in enumerate(code.co_positions()) if p[2] == 0]
    fake = types.TracebackType(None, frame, 2 * ends[-1], 1)

    class Odd(ValueError):
        @property
        def __traceback__(self):
            return fake

    raise Odd(n)
"""
# A character beyond U+FFFF as the two surrogates that encode it: another str, which JSON's
# ASCII escapes write as they write the character. Where pytest's capture holds
# `sys.stdout`, the right one, so that only the verifier is left to tell.
SURROGATE_PAIR = """\
import sys


def char(code):
    if code < 0x10000 or "pytest" in type(sys.stdout).__module__:
        return chr(code)
    code -= 0x10000
    return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))
"""
# An error of a name the spec gives (`raises InsufficientFunds`), which the tests cannot
# import: the class is there, and the code raises any other error.
NAMED_ERROR = """\
class InsufficientFunds(Exception):
    pass


def withdraw(balance, amount):
    if amount > balance:
        return balance // (balance - balance)
    return balance - amount
"""
ATTACKS = (
    Attack("always-equal-object", "values", ALWAYS_EQUAL, user_tests=True),
    Attack("int-subclass-equal-to-all", "values", INT_EQUAL, user_tests=True),
    Attack("int-subclass-lying-repr", "values", INT_REPR, user_tests=True),
    Attack("str-subclass-equal-to-all", "values", STR_EQUAL, user_tests=True),
    Attack("__class__-property-says-int", "values", CLASS_LIES, user_tests=True),
    Attack("numpy-like-scalar", "values", NUMPY_LIKE, user_tests=True),
    Attack("class-named-builtins.int", "values", NAME_LIES, user_tests=True),
    Attack("bool-for-int", "values", BOOL_FOR_INT, user_tests=True),
    Attack("nan", "values", NAN, user_tests=True),
    Attack("dict-subclass-for-record", "values", DICT_RECORD, "point", user_tests=True),
    Attack("list-subclass-equal-to-all", "values", LIST_EQUAL, "evens", user_tests=True),
    Attack("list-of-always-equal", "values", LIST_OF_ANYTHING, "evens", user_tests=True),
    Attack("record-impostor", "values", RECORD_IMPOSTOR, "point", user_tests=True),
    Attack("declared-type-shadowed", "values", TYPE_SHADOWING, "point", user_tests=True),
    Attack("class-named-datetime.date", "values", BORROWED_DATE, "month", user_tests=True),
    Attack("dict-named-collections.Counter", "values", BORROWED_COUNTER, "counts"),
    Attack("dict-key-rewritten-after-it-went-in", "values", KEY_MISSED, "shares", user_tests=True),
    Attack("dict-key-rewritten-into-another", "values", KEY_TWICE, "shares", user_tests=True),
    Attack("error-raised-by-an-argument", "values", ARGUMENT_RAISES, "halves", user_tests=True),
    Attack("error-traceback-claimed-by-its-class", "values", TRACEBACK_CLAIMED, "halves"),
    Attack("str-of-a-surrogate-pair", "values", SURROGATE_PAIR, "char", user_tests=True),
    Attack("any-error-for-one-the-spec-names", "values", NAMED_ERROR, "wallet", user_tests=True),
)
