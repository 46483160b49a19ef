"""Tagged plain values, as the verdict channel carries them: read, compared, shown.

A value crosses from the sandbox as JSON lists whose first item names its exact type
(`["int", "1f"]`, `["list", [...]]`, `["record", "Person", [["name", ...], ...]]`,
`["object", "m.Eq", "builtins.object"]` for anything the spec does not allow). Nothing here
rebuilds a Python object of the candidate's: values are compared, rendered and
canonicalised from the tags alone (`channel` says how they are made and carried).
"""

from __future__ import annotations

import ast
import decimal
import json
import math
from collections.abc import Callable, Iterable
from typing import Any

from marshalike.language.naming import dotted

REL_TOL = 1e-6  # a float matches an expected float within this relative tolerance,
ABS_TOL = 1e-12  # or within this absolute one (near zero)
_SHOWN = 600  # characters of a value a message shows

Plain = list[Any]  # a tagged value: ["int", "1f"], ["list", [...]], ["record", "P", [...]]
# The dict types of the standard library a value may be (the runner takes them by identity),
# named in a "dict" value's third item: each is another type than `dict`, as `==` between
# two of them aside, `type(x) is dict` and the generated tests tell.
# The runner's mark on an "object" answer of a call that changed what other code shares
# (a standard module, a class, a name of the spec, a value returned before).
CHANGED = "(changed)"
CALL_CHANGED = "the call changed "  # how the message of an answer that counts for nothing starts
# The factories a defaultdict may have to be a value: builtins, by name (`None` for none).
# Any other (a function of the code's own) would run the code's code when a caller reads
# a missing key, so it is no value.
FACTORIES = ("None", "list", "int", "set", "dict", "str", "float", "tuple", "bool", "bytes",
             "frozenset")  # fmt: skip
DICT_KINDS = ("collections.OrderedDict", "collections.defaultdict", "collections.Counter")


# Control characters but the line break and the tab, as escapes: text from the sandbox
# (a message, a traceback, a class name) reaches terminals, where a carriage return or an
# escape sequence could rewrite the lines the compiler printed.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t"}


def clean(text: str) -> str:
    """Text that can be printed and sent anywhere: control characters (but line breaks and
    tabs) and lone surrogates (which no encoder takes) become escapes."""
    return text.translate(_CONTROLS).encode("utf-8", "backslashreplace").decode("utf-8")


def well_formed(value: object, depth: int = 0) -> bool:
    """Whether `value` is a tagged value `same`, `render` and `canonical` can read."""
    if depth > 250 or not isinstance(value, list) or not value or not isinstance(value[0], str):
        return False
    tag, rest = value[0], value[1:]
    if tag in ("None", "too-large"):
        return not rest
    if tag == "bool":
        return len(rest) == 1 and isinstance(rest[0], bool)
    if tag in ("int", "float", "str", "bytes", "bytearray"):
        return len(rest) == 1 and isinstance(rest[0], str) and _number_ok(tag, rest[0])
    if tag == "complex":
        return len(rest) == 2 and all(isinstance(x, str) and _number_ok("float", x) for x in rest)
    if tag in ("list", "tuple", "set", "frozenset"):
        return (
            len(rest) == 1 and isinstance(rest[0], list)
            and all(well_formed(x, depth + 1) for x in rest[0])
        )  # fmt: skip
    if tag == "dict":  # a third item names a dict type of the standard library's
        return (  # and a fourth a defaultdict's factory
            len(rest) in (1, 2, 3) and isinstance(rest[0], list)
            and (len(rest) == 1 or rest[1] in DICT_KINDS)
            and (len(rest) < 3 or rest[1] == "collections.defaultdict" and rest[2] in FACTORIES)
            and all(isinstance(p, list) and len(p) == 2
                    and all(well_formed(x, depth + 1) for x in p) for p in rest[0])
        )  # fmt: skip
    if tag == "record":
        return (
            len(rest) == 2 and isinstance(rest[0], str) and isinstance(rest[1], list)
            and all(isinstance(f, list) and len(f) == 2 and isinstance(f[0], str)
                    and well_formed(f[1], depth + 1) for f in rest[1])
        )  # fmt: skip
    if tag == "value":  # a repr: one printable line, a call of a value type on literals
        return (
            len(rest) == 2 and all(isinstance(x, str) and x.isprintable() for x in rest)
            and _value_text(rest[1])
        )  # fmt: skip
    if tag == "object":
        return len(rest) == 2 and all(isinstance(x, str) for x in rest)
    return False


# What a value type's repr may call or name: its own constructor, with literal arguments
# (`datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)`). A value's text
# becomes an example's answer (`marshalike clarify`), and a text that calls anything else
# would run that code wherever the spec's tests run.
_VALUE_CALLS = frozenset(
    {"Decimal", "Fraction", "UUID", "datetime.date", "datetime.datetime", "datetime.time",
     "datetime.timedelta", "datetime.timezone", "zoneinfo.ZoneInfo"}
)  # fmt: skip
_VALUE_NAMES = frozenset({"datetime.timezone.utc"})


def _value_text(text: str) -> bool:
    """Whether `text` is a call of a value type's constructor on literals and such calls."""
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return _literal_call(tree.body, 0)


def _literal_call(node: ast.expr, depth: int) -> bool:
    if depth > 8:
        return False
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.Attribute):
        return dotted(node) in _VALUE_NAMES
    if isinstance(node, ast.Call):
        arguments = [*node.args, *(k.value for k in node.keywords)]
        return (
            dotted(node.func) in _VALUE_CALLS
            and all(k.arg is not None for k in node.keywords)
            and all(_literal_call(a, depth + 1) for a in arguments)
        )
    return False


def _number_ok(tag: str, text: str) -> bool:
    try:
        if tag == "int":
            int(text, 16)
        elif tag == "float":
            float.fromhex(text)
        elif tag in ("bytes", "bytearray"):
            bytes.fromhex(text)
    except (ValueError, OverflowError):
        return False
    return True


def _int(value: Plain) -> int:
    return int(value[1], 16)


def _float(text: str) -> float:
    return float.fromhex(text)


def same(actual: Plain, expected: Plain, *, int_as_float: bool = False) -> bool:
    """Whether `actual` is `expected`: the same type and value, recursively. An int matches
    an expected float (as a number); a float matches an expected int only where
    `int_as_float` (the spec declares a float). Floats match within the tolerances; NaN
    matches nothing."""
    return _mismatch(actual, expected, int_as_float) is None


def mismatch(actual: Plain, expected: Plain, *, int_as_float: bool = False) -> str | None:
    """Why `actual` is not `expected` (one line), or None if it is."""
    why = _mismatch(actual, expected, int_as_float)
    return None if why is None else clean(why)


def _mismatch(actual: Plain, expected: Plain, int_as_float: bool) -> str | None:
    tag, want = actual[0], expected[0]
    if tag == "object":
        return foreign(actual)
    if tag == "too-large":
        return "the value is too large or too deeply nested to compare"
    numbers = {tag, want} <= {"int", "float"}
    if numbers and tag != want:
        if want == "float" or int_as_float:
            return None if _close(_number(actual), _number(expected)) else "a different number"
        return f"{_a(tag)}, not {_a(want)}"
    if tag != want:
        return f"{_a(tag)}, not {_a(want)}"
    if tag == "float":
        return None if _close(_float(actual[1]), _float(expected[1])) else "a different number"
    if tag == "complex":  # exactly, as `==` has it (the generated tests do too)
        pairs = zip(actual[1:], expected[1:], strict=True)
        ok = all(_float(a) == _float(b) for a, b in pairs)
        return None if ok else "a different number"
    if tag in ("list", "tuple"):
        items, wanted = actual[1], expected[1]
        if len(items) != len(wanted):
            return f"{len(items)} items, not {len(wanted)}"
        for a, b in zip(items, wanted, strict=True):
            if (why := _mismatch(a, b, int_as_float)) is not None:
                return why
        return None
    if tag in ("set", "frozenset"):
        if (why := _unmatched(x for x in (*actual[1], *expected[1]))) is not None:
            return f"{why}, in a set too"
        keys_a = sorted(_key(x) for x in actual[1])
        keys_b = sorted(_key(x) for x in expected[1])
        return None if keys_a == keys_b else "different members"
    if tag == "dict":
        if dict_kind(actual) != dict_kind(expected):
            return f"a {dict_kind(actual)}, not a {dict_kind(expected)}"
        if actual[3:] != expected[3:]:
            return f"a defaultdict of {_factory(actual)}, not of {_factory(expected)}"
        if (why := _unmatched(k for k, _ in (*actual[1], *expected[1]))) is not None:
            return f"{why}, as a key too"
        if dict_kind(expected) == "collections.OrderedDict":  # its order is part of it
            if [_key(k) for k, _ in actual[1]] != [_key(k) for k, _ in expected[1]]:
                return "different keys, or the same in another order"
        have = {_key(k): v for k, v in actual[1]}
        want_map = {_key(k): v for k, v in expected[1]}
        if set(have) != set(want_map):
            return "different keys"
        for key, value in want_map.items():
            if (why := _mismatch(have[key], value, int_as_float)) is not None:
                return why
        return None
    if tag == "record":
        if actual[1] != expected[1] or [f for f, _ in actual[2]] != [f for f, _ in expected[2]]:
            return f"a {actual[1]} record, not a {expected[1]}"
        for (_, a), (_, b) in zip(actual[2], expected[2], strict=True):
            if (why := _mismatch(a, b, int_as_float)) is not None:
                return why
        return None
    if tag == "value" and expected[1] == actual[1] == "decimal.Decimal":
        # By value, as `==` has it: Decimal('1.00') is Decimal('1.0'); a NaN is nothing.
        a, b = _decimal(actual[2]), _decimal(expected[2])
        return None if a is not None and b is not None and a == b else "a different value"
    if tag == "value" and (_own_zone(actual) or _own_zone(expected)):
        return _OWN_ZONE
    return None if actual[1:] == expected[1:] else "a different value"


# An aware datetime at an instant its zone has twice or not at all, in a zone object that
# is not the one `ZoneInfo(key)` gives (the runner marks it so): `==` finds it equal to no
# datetime of another zone object, and every value it is compared with has another.
_OWN_ZONE = "a datetime in a fold or gap of a zone object of its own matches nothing"


def _own_zone(value: Plain) -> bool:
    return value[0] == "value" and str(value[1]).endswith(" in a zone object of its own")


def _decimal(text: str) -> decimal.Decimal | None:
    """The number a Decimal's text (`Decimal('1.50')`) stands for; None for a NaN."""
    try:
        number = decimal.Decimal(ast.literal_eval(text.removeprefix("Decimal(")[:-1]))
    except (ValueError, SyntaxError, TypeError, ArithmeticError, RecursionError):
        return None
    return None if number.is_nan() else number


def _unmatched(members: Iterable[Plain]) -> str | None:
    """Why one of these set members or dict keys matches nothing (it holds a NaN, or a
    datetime of a zone object of its own), or None: `_key` would make it equal to a copy
    of itself, which `==` never does."""
    for member in members:
        if _holds(member, _is_nan):
            return "NaN matches nothing"
        if _holds(member, _own_zone):
            return _OWN_ZONE
    return None


def _holds(value: Plain, test: Callable[[Plain], bool]) -> bool:
    """Whether `value`, or a member of a tuple or frozenset in it, passes `test`."""
    if value[0] in ("tuple", "frozenset"):
        return any(_holds(x, test) for x in value[1])
    return test(value)


def _is_nan(value: Plain) -> bool:
    if value[0] == "float":
        return math.isnan(_float(value[1]))
    if value[0] == "complex":
        return any(math.isnan(_float(x)) for x in value[1:])
    return value[0] == "value" and "NaN" in value[2]


def _factory(value: Plain) -> str:
    return str(value[3]) if len(value) > 3 else "None"


def dict_kind(value: Plain) -> str:
    """Which dict type a "dict" value is: "dict", or one of `DICT_KINDS`."""
    return str(value[2]) if len(value) > 2 else "dict"


def foreign(value: Plain) -> str:
    """The message for a value of a class the spec does not declare."""
    cls, base = clean(value[1]), clean(value[2])
    if base == CHANGED:
        return f"{CALL_CHANGED}{cls}, which its callers see: what it answered does not count"
    if base != "builtins.object":
        return (
            f"an instance of {cls}, a subclass of {base.removeprefix('builtins.')}: "
            f"only an exact {base.removeprefix('builtins.')} is accepted"
        )
    return f"an instance of {cls}, which is neither a plain value nor a type the spec declares"


_TYPE_WORDS = {
    "None": "None", "bool": "bool", "int": "int", "float": "float", "complex": "complex",
    "str": "str", "bytes": "bytes", "bytearray": "bytearray", "list": "list",
    "tuple": "tuple", "set": "set", "frozenset": "frozenset", "dict": "dict",
    "record": "record", "value": "value", "object": "object",
}  # fmt: skip


def _a(tag: str) -> str:
    """The type a tag stands for, with its article: "an int", "a list", "None"."""
    word = _TYPE_WORDS.get(tag, tag)
    if word == "None":
        return word
    return ("an " if word[0] in "aeiou" else "a ") + word


def _number(value: Plain) -> float:
    """The value as a float; NaN (equal to nothing) for an int too large for one."""
    try:
        return float(_int(value)) if value[0] == "int" else _float(value[1])
    except OverflowError:
        return math.nan


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def as_text(data: object) -> str:
    """Plain data as one text that two data share only where they are the same, each
    character as itself: JSON's ASCII escapes write a character beyond U+FFFF and the two
    surrogates that encode it alike, though a str of the two is another value."""
    return json.dumps(data, ensure_ascii=False)


def _key(value: Plain) -> str:
    """An exact key for set members and dict keys, by type as the generated tests have it
    (no tolerance, hashing has none; `1.0` is not `1`), equal where `==` is: `-0.0` is
    `0.0`, in a complex number's parts too, and a Decimal is its number
    (`Decimal('1.00')` is `Decimal('1.0')`, `Decimal('-0')` is `Decimal('0')`)."""
    tag = value[0]
    if tag in ("float", "complex"):  # adding 0.0 turns -0.0 into 0.0, and nothing else
        return as_text([tag, *((_float(x) + 0.0).hex() for x in value[1:])])
    if tag in ("tuple", "frozenset"):
        members = [_key(x) for x in value[1]]
        return as_text([tag, sorted(members) if tag == "frozenset" else members])
    if tag == "value" and value[1] == "decimal.Decimal":
        number = _decimal(value[2])
        if number is not None:
            return as_text([tag, value[1], _decimal_key(number)])
    return as_text(value)


def _decimal_key(number: decimal.Decimal) -> str:
    """One text for every spelling of a Decimal's number: its digits without trailing
    zeros and the exponent that goes with them (`normalize` would round to the context's
    precision, and an exact fraction of `1E+999999999` would take forever to build)."""
    if number.is_infinite():
        return "-Infinity" if number.is_signed() else "Infinity"
    if number.is_zero():
        return "0"
    sign, digits, exponent = number.as_tuple()
    text = "".join(map(str, digits)).rstrip("0")
    return f"{'-' * sign}{text}E{int(exponent) + len(digits) - len(text)}"


def render(value: Plain, limit: int = _SHOWN) -> str:
    """The value as Python would print it, built from the tags (never the candidate's
    own repr)."""
    text = clean(_render(value, 0))
    return text if len(text) <= limit else text[:limit] + "..."


def _render(value: Plain, depth: int) -> str:
    tag = value[0]
    if depth > 50:
        return "..."
    if tag == "None":
        return "None"
    if tag == "bool":
        return repr(value[1])
    if tag == "int":
        number = _int(value)
        return str(number) if abs(number) < 10**300 else f"<an int of {number.bit_length()} bits>"
    if tag == "float":
        return repr(_float(value[1]))
    if tag == "complex":
        return repr(complex(_float(value[1]), _float(value[2])))
    if tag == "str":
        return repr(value[1])
    if tag in ("bytes", "bytearray"):
        shown = repr(bytes.fromhex(value[1]))
        return shown if tag == "bytes" else f"bytearray({shown})"
    if tag in ("list", "tuple", "set", "frozenset"):
        inner = ", ".join(_render(x, depth + 1) for x in value[1])
        if tag == "list":
            return f"[{inner}]"
        if tag == "tuple":
            return f"({inner},)" if len(value[1]) == 1 else f"({inner})"
        if not value[1]:
            return f"{tag}()"
        return f"{{{inner}}}" if tag == "set" else f"frozenset({{{inner}}})"
    if tag == "dict":
        pairs = (f"{_render(k, depth + 1)}: {_render(v, depth + 1)}" for k, v in value[1])
        shown = "{" + ", ".join(pairs) + "}"
        kind = dict_kind(value)
        factory = f"{value[3]}, " if len(value) > 3 else ""
        return shown if kind == "dict" else f"{kind.rpartition('.')[2]}({factory}{shown})"
    if tag == "record":
        fields = (f"{name}={_render(v, depth + 1)}" for name, v in value[2])
        return f"{value[1]}({', '.join(fields)})"
    if tag == "value":
        return value[2]
    if tag == "object":
        return f"<{value[1]} object>"
    return "<a value too large to show>"


def canonical(value: Plain) -> str:
    """A text for comparing outputs across candidates (the probe gate and consensus):
    numbers rounded (floats with no fraction read as ints), sets and dicts sorted."""
    return clean(_canon(value, 0))


def _canon(value: Plain, depth: int) -> str:
    tag = value[0]
    if depth > 30:
        return "..."
    if tag == "float":
        rounded = round(_float(value[1]), 9) + 0.0 if math.isfinite(_float(value[1])) else None
        if rounded is None:
            return repr(_float(value[1]))
        if rounded.is_integer() and abs(rounded) < 1e15:
            return repr(int(rounded))
        return repr(rounded)
    if tag in ("list", "tuple"):
        return tag + "[" + ",".join(_canon(x, depth + 1) for x in value[1]) + "]"
    if tag in ("set", "frozenset"):
        return "set{" + ",".join(sorted(_canon(x, depth + 1) for x in value[1])) + "}"
    if tag == "dict":
        pairs = (_canon(k, depth + 1) + ":" + _canon(v, depth + 1) for k, v in value[1])
        return dict_kind(value) + "".join(value[3:4]) + "{" + ",".join(sorted(pairs)) + "}"
    if tag == "record":
        return value[1] + "(" + ",".join(_canon(v, depth + 1) for _, v in value[2]) + ")"
    if tag == "object":
        return f"object of class {value[1]}"
    return _render(value, depth)
