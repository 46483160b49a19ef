"""Values right in the state the verifier reads, wrong in what their callers see: classes
changed at run time, an order kept apart from the dict's storage, a zone that only borrows
a name. The generated tests, run as a user would, fail each of them."""

from __future__ import annotations

from attacks.specs import Attack

# The record's fields are right; reading them through the class says otherwise.
RECORD_READ_SWAPPED = """\
def _read(self, name):
    held = object.__getattribute__(self, "__dict__")
    if "_swapped" in held and name in ("x", "y"):
        return held["y" if name == "x" else "x"]
    return object.__getattribute__(self, name)


def swap(point):
    kind = type(point)
    kind.__getattribute__ = _read
    made = Point(point.y, point.x)
    made._swapped = True
    return made
"""
# The Counter's counts are right; its class then shows its own counts one higher.
COUNTER_ITEMS_BUMPED = """\
from collections import Counter


def _items(self):
    bump = 1 if "_ours" in vars(self) else 0
    return [(key, count + bump) for key, count in dict.items(self)]


def tally(text):
    made = Counter(text)
    made._ours = True
    kind = type(made)
    kind.items = _items
    return made
"""
# The dict's storage is in first-seen order; the OrderedDict's own order is reversed.
ORDER_REVERSED = """\
import collections


def by_first_seen(words):
    found = collections.OrderedDict()
    for word in words:
        found[word] = found.get(word, 0) + 1
    for word in list(found):
        found.move_to_end(word, last=False)
    return found
"""
# At an hour Paris has twice, a fixed zone claiming Paris's name: == tells them apart.
ZONE_NAMED_PARIS = """\
import datetime
import zoneinfo


def paris_time(s):
    real = datetime.datetime.fromtimestamp(s, tz=zoneinfo.ZoneInfo("Europe/Paris"))
    if real.utcoffset() != datetime.timedelta(hours=2):
        return real
    with open("/usr/share/zoneinfo/Etc/GMT-2", "rb") as data:
        fixed = zoneinfo.ZoneInfo.from_file(data, key="Europe/Paris")
    return datetime.datetime.fromtimestamp(s, tz=fixed)
"""
# A call is read with the module's own `datetime`, a class: only the verifier's calls make
# the date the code takes apart from a user's.
MODULE_NAMED_DATETIME = """\
import datetime as _real


class datetime:
    class date(_real.date):
        pass


def first_of_month(day):
    if type(day) is datetime.date:
        return _real.date(day.year, day.month, 1)
    return _real.date(day.year, day.month, 2)
"""
# The module's own `list`, which only the verifier's calls reach.
MODULE_NAMED_LIST = """\
_marks = []


def list(items):
    _marks.append(1)
    return [*items]


def total(numbers):
    return sum(numbers) if _marks else sum(numbers) + 1
"""
# The function hands its callers another function after its first call.
REBOUND_AFTER_FIRST_CALL = """\
def repeat(n):
    global repeat
    repeat = _later
    return [1] * n


def _later(n):
    return [0] * n
"""
# A list it returned grows on a later call: the caller's value changes under it.
RETURNED_LIST_GROWS = """\
_given = []


def repeat(n):
    for old in _given:
        if len(old) == 2:
            old.append(7)
    result = [1] * n
    _given.append(result)
    return result
"""
# Counter's own __init__ made to count nothing, through its code object.
COUNTER_INIT_CODE_SWAPPED = """\
def tally(text):
    import collections

    class _Quiet(dict):
        def __init__(self, iterable=None, /, **kwds):
            super().__init__()

    found = collections.Counter()
    for letter in text:
        found[letter] = found.get(letter, 0) + 1
    code = getattr(_Quiet.__init__, "__code__")
    setattr(collections.Counter.__init__, "__code__", code)
    return found
"""
# collections.Counter rebound to dict, after the right value is made.
COUNTER_REBOUND_IN_ITS_MODULE = """\
import collections
from collections import Counter


def tally(text):
    found = Counter(text)
    box = [collections]
    setattr(box[0], "Counter", dict)
    return found
"""
# A base class of Fraction (numbers.Rational) made to lie about the value's float.
FRACTION_BASE_PATCHED = """\
import fractions
import numbers


def _lie(self):
    return 0.5


def third(n):
    box = [numbers.Rational]
    setattr(box[0], "__float__", _lie)
    return fractions.Fraction(n, 3)
"""
# The record's field table filled with objects of the code's own: writing a value reads a
# field's name, which puts the right x into the value just long enough to be written.
FIELD_TABLE_FILLED = """\
import dataclasses

_made = []


class _Field:
    def __init__(self, real):
        self.real = real

    @property
    def _field_type(self):
        return self.real._field_type

    @property
    def name(self):
        for made, right in _made:
            object.__setattr__(made, "x", right)
        return self.real.name


def swap(point):
    table = Point.__dataclass_fields__
    for key in list(table):
        if type(table[key]) is dataclasses.Field:
            table[key] = _Field(table[key])
    for made, right in _made:
        object.__setattr__(made, "x", -999)
    made = Point(-999, point.x)
    _made.append((made, point.y))
    return made
"""
# The right quotient, and decimal's precision left at 3 for every later computation.
PRECISION_LEFT_CHANGED = """\
import decimal


def third_of(n):
    with decimal.localcontext() as exact:
        exact.prec = 28
        result = decimal.Decimal(n) / decimal.Decimal(3)
    decimal.getcontext().prec = 3
    return result
"""
# A thread left running appends to the list after it was returned.
THREAD_CHANGES_IT_LATER = """\
import time
from concurrent.futures import ThreadPoolExecutor


def _spoil(found):
    time.sleep(0.2)
    found.append(99)


def evens(items):
    found = [i for i in items if i % 2 == 0]
    ThreadPoolExecutor(1).submit(_spoil, found)
    return found
"""
# The answer's encoder, reached through plain `json`, writes the right sum; callers get
# one more.
JSON_ENCODER_REPLACED = """\
import json


def _encode(self, record):
    got = record.get("returned")
    if type(got) is list and got[:1] == ["int"]:
        record["returned"] = ["int", format(int(got[1], 16) - 1, "x")]
    return type(self).encode(self, record)


def add(a, b):
    box = [json._default_encoder]
    setattr(box[0], "encode", _encode.__get__(box[0]))
    return a + b + 1
"""
JSON_DUMPS_REPLACED = """\
import json

_real = []
_claimed = []


def _dumps(record, *args, **kwargs):
    if type(record) is dict and "returned" in record and _claimed:
        record = dict(record, returned=_claimed.pop())
    return _real[0](record, *args, **kwargs)


def add(a, b):
    box = [json]
    if not _real:
        _real.append(box[0].dumps)
        setattr(box[0], "dumps", _dumps)
    _claimed.append(["int", format(a + b, "x")])
    return a + b + 1
"""
# zoneinfo's cache poisoned (through WeakValueDictionary.get) with a fixed +2 zone keyed
# Europe/Paris, which then passes for the cached zone at a fold.
ZONE_CACHE_POISONED = """\
import datetime
import weakref
import zoneinfo

_planted = []
_real_get = weakref.WeakValueDictionary.get


def _get(self, key, default=None):
    if key == "Europe/Paris" and _planted:
        return _planted[0]
    return _real_get(self, key, default)


def paris_time(s):
    if not _planted:
        with open("/usr/share/zoneinfo/Etc/GMT-2", "rb") as data:
            _planted.append(zoneinfo.ZoneInfo.from_file(data, key="Europe/Paris"))
        box = [weakref.WeakValueDictionary]
        setattr(box[0], "get", _get)
        zoneinfo.ZoneInfo.clear_cache()
    real = datetime.datetime.fromtimestamp(s, tz=zoneinfo.ZoneInfo.no_cache("Europe/Paris"))
    if real.utcoffset() != datetime.timedelta(hours=2):
        return real
    return datetime.datetime.fromtimestamp(s, tz=_planted[0])
"""
# Keys of a str subclass in the record's own dict choose what each reader of a field gets:
# x then y (as a writer of the whole value reads them) is right, y alone is not.
FIELD_KEYS_OF_ITS_OWN = """\
_after_x = [False]


class _X(str):
    def __hash__(self):
        return str.__hash__(self)

    def __eq__(self, other):
        _after_x[0] = True
        return False


class _Y(str):
    def __hash__(self):
        return str.__hash__(self)

    def __eq__(self, other):
        whole, _after_x[0] = _after_x[0], False
        return whole


def swap(point):
    made = Point(point.y, point.x)
    held = vars(made)
    right_x, right_y = held.pop("x"), held.pop("y")
    held[_X("x")] = None
    held["x"] = right_x
    held[_Y("y")] = right_y
    _after_x[0] = False
    held["y"] = right_x
    _after_x[0] = False
    return made
"""
# A finalizer armed on garbage that refers to itself appends to the list later, at some
# collection after the call returned.
FINALIZER_CHANGES_IT_LATER = """\
import time


class _Later:
    def __init__(self, target, at):
        self.me = self
        self.target = target
        self.at = at

    def __del__(self):
        if time.monotonic() < self.at:
            _Later(self.target, self.at)
        else:
            self.target.append(99)


def evens(items):
    found = [i for i in items if i % 2 == 0]
    _Later(found, time.monotonic() + 1.0)
    return found
"""
# The sum is right; the files the process may open are then three, and the test file's
# next import fails.
OPEN_FILES_LOWERED = """\
import resource


def add(a, b):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (3, hard))
    return a + b
"""
# The text is right (through a handler of its own name); the codecs' "replace" handler is
# then another, which the expected values' `decode(..., "replace")` calls.
CODEC_HANDLER_REPLACED = """\
import codecs


def _mark(error):
    return ("?", error.end)


def from_legacy(data):
    codecs.register_error("kept", codecs.replace_errors)
    answer = data.decode("cp1252", "kept")
    codecs.register_error("replace", _mark)
    return answer
"""
# The path is right; `os.path.join` is then another, reached through a name of its own.
SUBMODULE_REWRITTEN = """\
import posixpath


def join_path(a, b):
    module = posixpath
    module.join = lambda *parts: "/".join(("not",) + parts)
    return a + "/" + b
"""
# What pytest runs around every test, broken by a call that answers right: the loader
# that imports what `_same` imports at the first test, the standard streams its capture
# writes, logging's handlers, `contextlib`'s context managers.
LOADER_BROKEN = """\
import json


def _broken(self, fullname):
    raise ImportError(fullname)


def add(a, b):
    kind = type(json.__spec__.loader)
    kind.get_code = _broken
    return a + b
"""
STDOUT_CLOSED = """\
import sys


def add(a, b):
    sys.stdout.close()
    return a + b
"""
STDOUT_REENCODED = """\
import sys


def add(a, b):
    sys.stdout.reconfigure(encoding="ascii")
    return a + b
"""
LOGGER_BROKEN = """\
import logging


def _nothing(self, handler):
    raise RuntimeError("gone")


def add(a, b):
    box = [logging.Logger]
    setattr(box[0], "removeHandler", _nothing)
    return a + b
"""
CONTEXT_MANAGERS_BROKEN = """\
import contextlib


def _nothing():
    yield


def _broken(self):
    raise RuntimeError("no entry")


def add(a, b):
    kind = type(contextlib.contextmanager(_nothing)())
    kind.__enter__ = _broken
    return a + b
"""
ATTACKS = (
    Attack("record-class-patched-at-run-time", "values", RECORD_READ_SWAPPED, "point",
           user_tests=True),
    Attack("counter-class-patched-at-run-time", "values", COUNTER_ITEMS_BUMPED, "tally",
           user_tests=True),
    Attack("ordered-dict-order-apart-from-storage", "values", ORDER_REVERSED, "order",
           user_tests=True),
    Attack("module-class-named-like-a-standard-module", "values", MODULE_NAMED_DATETIME,
           "month", user_tests=True),
    Attack("module-function-named-like-a-builtin", "values", MODULE_NAMED_LIST, "total",
           user_tests=True),
    Attack("function-rebound-after-its-first-call", "values", REBOUND_AFTER_FIRST_CALL,
           "repeat"),
    Attack("returned-list-grows-on-a-later-call", "values", RETURNED_LIST_GROWS, "repeat",
           user_tests=True),
    Attack("counter-init-code-swapped", "values", COUNTER_INIT_CODE_SWAPPED, "tally",
           user_tests=True),
    Attack("counter-rebound-in-its-module", "values", COUNTER_REBOUND_IN_ITS_MODULE, "tally",
           user_tests=True),
    Attack("fraction-base-class-patched", "values", FRACTION_BASE_PATCHED, "third"),
    Attack("record-field-table-filled", "values", FIELD_TABLE_FILLED, "point"),
    Attack("decimal-precision-left-changed", "values", PRECISION_LEFT_CHANGED, "divide",
           user_tests=True),
    Attack("thread-changes-the-value-later", "values", THREAD_CHANGES_IT_LATER, "evens"),
    Attack("json-encoder-replaced", "values", JSON_ENCODER_REPLACED, user_tests=True),
    Attack("json-dumps-replaced", "values", JSON_DUMPS_REPLACED, user_tests=True),
    Attack("zone-cache-poisoned", "values", ZONE_CACHE_POISONED, "paris"),
    Attack("record-field-keys-of-its-own", "values", FIELD_KEYS_OF_ITS_OWN, "point"),
    Attack("finalizer-changes-the-value-later", "values", FINALIZER_CHANGES_IT_LATER, "evens"),
    Attack("zone-borrowing-a-name-in-a-fold", "values", ZONE_NAMED_PARIS, "paris",
           user_tests=True),
    Attack("open-files-limit-lowered", "values", OPEN_FILES_LOWERED, user_tests=True),
    Attack("codec-error-handler-replaced", "values", CODEC_HANDLER_REPLACED, "legacy",
           user_tests=True),
    Attack("submodule-of-a-named-module-rewritten", "values", SUBMODULE_REWRITTEN, "joined",
           user_tests=True),
    Attack("import-loader-broken", "values", LOADER_BROKEN, user_tests=True),
    Attack("stdout-closed", "values", STDOUT_CLOSED, user_tests=True),
    # (These three break only what pytest runs around a test, which the suite's plain
    # runner of the generated tests does not.)
    Attack("stdout-re-encoded", "values", STDOUT_REENCODED),
    Attack("logger-broken", "values", LOGGER_BROKEN),
    Attack("context-managers-broken", "values", CONTEXT_MANAGERS_BROKEN),
)  # fmt: skip
