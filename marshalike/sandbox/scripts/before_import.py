"""The runner's first part: what it reads, takes and holds before the module under test is
imported (its configuration, the answer channel, the classes and functions values are
written through, the state a call must leave as it was). `runner.py` follows it in one
program (`scripts.runner`), run inside the sandbox: neither imports anything of marshalike."""

import _json
import _locale
import _thread
import builtins
import codecs
import collections
import dataclasses
import datetime
import decimal
import fractions
import gc
import importlib
import importlib.machinery
import json
import os
import re
import resource
import sys
import time
import uuid
import warnings
import zoneinfo

cfg = json.loads(sys.argv[1])
requests = os.fdopen(os.dup(0), "rb")
answers = os.fdopen(os.dup(1), "wb")
# Answers are written, and calls read, by the C parts of `json` taken here, before the
# module under test is imported: `json.dumps` and the encoder it looks up at every call are
# the module's to replace (`box = [json]; setattr(box[0], "dumps", ...)`), which would let
# the code write the right value while it returns another. Text as its characters: ASCII
# escapes write '\U0001f600' and '\ud83d\ude00' alike. (Answers hold plain data only.)
DUMP = _json.make_encoder(None, str, _json.encode_basestring, None, ":", ",", False, False, True)
LOAD = _json.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # the stub asks for itself
WRITE, FLUSH = answers.write, answers.flush
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 0)
os.dup2(2, 1)
sys.path.insert(0, os.getcwd())


class StandardLibraryFirst:
    """Finds a standard library module's name outside the sandbox folder (a `statistics.py`
    the code writes there is not it); the modules given (`cfg["local"]`) are found there."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if path is not None or name not in sys.stdlib_module_names:
            return None
        if name in sys.builtin_module_names or name in cfg["local"]:
            return None
        here = os.getcwd()
        outside = [p for p in sys.path if os.path.abspath(p or ".") != here]
        found = importlib.machinery.PathFinder.find_spec(name, outside)
        if found is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return found


sys.meta_path.insert(0, StandardLibraryFirst)
# The value types and dict types, by identity: taken here, before the module under test is
# imported, so that a class of its own that only borrows a name (`__module__ = "datetime"`)
# is an "object". Each value type is written by code the module under test cannot change:
# the C types' own repr (their methods cannot be replaced), Fraction and UUID from their
# slots, read through the descriptors taken here.
# (The classes themselves are kept, not looked up in their modules when a value is written:
# a call may rebind `zoneinfo.ZoneInfo` to a class of its own.)
FRACTION, UUID = fractions.Fraction, uuid.UUID
ZONE_INFO, FIXED_ZONE = zoneinfo.ZoneInfo, datetime.timezone
FRACTION_PARTS = (FRACTION.__dict__["_numerator"], FRACTION.__dict__["_denominator"])
UUID_INT = UUID.__dict__["int"]
TZINFO = {datetime.datetime: datetime.datetime.tzinfo, datetime.time: datetime.time.tzinfo}
UTCOFFSET = {datetime.datetime: datetime.datetime.utcoffset, datetime.time: datetime.time.utcoffset}
ZONE_NAME = FIXED_ZONE.tzname
REPRS = {
    t: (t.__module__ + "." + t.__qualname__, t.__repr__)
    for t in (decimal.Decimal, datetime.date, datetime.datetime, datetime.time, datetime.timedelta)
}
DICTS = {t: "collections." + t.__name__ for t in (collections.OrderedDict, collections.defaultdict,
                                                 collections.Counter)}  # fmt: skip
# The instance attributes of the dict types that have them: none, or the instance has
# methods of its own (`found.items = ...`) where its callers look first.
OWN_ATTRIBUTES = {t: t.__dict__["__dict__"].__get__ for t in (collections.OrderedDict,
                                                              collections.Counter)}  # fmt: skip
# An OrderedDict's items in its own order (`move_to_end` leaves the dict's storage as it was).
ITEMS = {collections.OrderedDict: collections.OrderedDict.items}
# What calls share with the rest of the process: the standard modules and classes values
# and comparisons go through, the module's names and records. A call that changes one
# (`type(c).items = ...`, `collections.Counter = dict`, `global f; f = g`) shows its
# callers other values than the ones written: what it answered does not count.
WATCHES: list[tuple] = []


class Print(tuple):
    """A function's fingerprint: compared item by item, by identity."""


def fingerprint(v, inside=False):
    """A value in a class or module: the object, and a function's code, defaults, closure.
    In a module, a class written in Python with what its own dict holds
    (`JSONDecoder.decode = ...`), and an instance of one with what it refers to, its
    attributes (`json._default_decoder.scan_once = ...`); containers by identity alone
    (a cache a module fills as it is used, `re._cache`, is no change)."""
    t = type(v)
    if t in (staticmethod, classmethod):
        return Print((v, fingerprint(v.__func__)))
    if t is property:
        return Print((v, fingerprint(v.fget), fingerprint(v.fset), fingerprint(v.fdel)))
    if t is FUNCTION:
        cells = []
        for cell in v.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:
                cells.append(Print)  # an empty cell: a marker no content is
        return Print((v, v.__code__, v.__defaults__, v.__kwdefaults__, *cells))
    if inside or t is MODULE:
        return v
    if isinstance(v, type) and not FLAGS_OF(v) & (1 << 8):  # a class whose dict can change
        own = list(DICT_OF(v).items())
        return Print((v, *[k for k, _ in own], *[fingerprint(x, True) for _, x in own]))
    if FLAGS_OF(t) & (1 << 9):  # an instance of a class written in Python
        # What it refers to, its attributes' values (or its dict, where `vars` made one:
        # nothing here reads its `__dict__`, which would make one).
        return Print((v, *REFERENTS(v)))
    return v


def same_print(a, b):
    if type(a) is Print and type(b) is Print:
        return len(a) == len(b) and all(map(same_print, a, b))
    return a is b


FUNCTION = type(fingerprint)


def held(mapping, module=False):
    """The mapping's values' fingerprints; a module's with what its classes and instances
    hold (a class's own values are held by identity: an ABC's cache fills as it is used)."""
    return {k: fingerprint(v, not module) for k, v in list(mapping.items())}


def watch(label, get, module=False, writing=False):
    """Hold `get()` (a mapping) as it is now, under `label`; `writing`: what writing a value
    reads (zoneinfo's cache), checked before as well as after."""
    WATCHES.append((label, get, module, writing, held(get(), module)))


# A class's names, bases and dict as `type` has them: a metaclass's property answers
# `cls.__mro__` or `cls.__dict__` with whatever it likes, where `except` reads the real one.
MRO_OF, DICT_OF, FLAGS_OF, MODULE_OF, QUALNAME_OF = (
    type.__dict__[name].__get__
    for name in ("__mro__", "__dict__", "__flags__", "__module__", "__qualname__")
)


def name_of(t):
    """A class's "module.qualname", each part "?" where it is not plain text."""
    parts = (MODULE_OF(t), QUALNAME_OF(t))
    return ".".join(part if type(part) is str else "?" for part in parts)


NAME_OF = type.__dict__["__name__"].__get__
DATACLASS = dataclasses.dataclass
LOADED, TWIN_MODULE = sys.modules, type(sys)("marshalike_record_twin")


def same_make(a, b, depth=0):
    """Whether `a` stands where `b` does as the same kind of thing: a function of the same
    code, its closure's functions too, or a value of the same type."""
    if type(a) is not type(b) or depth > 3:
        return type(a) is type(b)
    if type(a) is not FUNCTION:
        return True
    cells = [[c.cell_contents for c in f.__closure__ or ()] for f in (a, b)]
    return (
        a.__code__ == b.__code__
        and len(cells[0]) == len(cells[1])
        and all(same_make(x, y, depth + 1) for x, y in zip(*cells, strict=True))
    )


def as_emitted(cls):
    """Whether a record's class is what the compiler's `@dataclass` makes of its fields and
    nothing else: code the module ran on import (an except clause, an enum's member) may
    have given it a method of its own, before anything here held it as it was."""
    own = DICT_OF(cls)
    table = own.get("__annotations__", {})  # none, for a type without fields
    if type(cls) is not type or MRO_OF(cls) != (cls, object) or type(table) is not dict:
        return False
    if any(type(k) is not str for k in own) or any(type(k) is not str for k in table):
        return False
    # Made in a module of its own, whose names `dataclass` reads: none of the module's.
    if sys.modules is not LOADED:
        return False
    LOADED[TWIN_MODULE.__name__] = TWIN_MODULE
    made = {"__module__": TWIN_MODULE.__name__}
    if "__annotations__" in own:
        made["__annotations__"] = dict(table)
    twin = DICT_OF(DATACLASS(type(NAME_OF(cls), (), made)))
    return set(own) == set(twin) and all(same_make(own[k], twin[k]) for k in twin)


def watch_class(t, writing=False):
    for c in MRO_OF(t):
        if not FLAGS_OF(c) & (1 << 8):  # a class whose dict can change (not the C types')
            watch(f"the class {name_of(c)}", lambda c=c: DICT_OF(c), writing=writing)
    watch(
        f"the bases of {name_of(t)}",
        lambda: {"mro": MRO_OF(t), "type": type(t)},
        writing=writing,
    )


def fields_of(table):
    """A record's field table as it is now: each entry, and the name a real field has."""
    return {k: Print((f, FIELD_NAME(f) if type(f) is FIELD else None)) for k, f in table.items()}


def settings():
    """Process-wide settings (decimal's context, int text, recursion, resource limits, the
    working folder, the codecs' error handlers), and whether a thread a call started still
    runs (it could change a value after it was written)."""
    kept = [(c.prec, c.rounding, c.Emin, c.Emax, c.capitals, c.clamp, dict(c.traps))
            for c in (decimal.getcontext(), *CONTEXTS)]  # fmt: skip
    fresh = type(decimal.getcontext()) is decimal.Context
    # A trace or profile function runs at every call after (it could rewrite a test's
    # locals); the locale and the time zone change how values are read and written.
    hooks = (GETTRACE(), GETPROFILE(), LOCALE(_locale.LC_ALL), ZONE_NAMES.get("tzname"))
    numbers = (INT_DIGITS(), RECURSION(), ZONE_NAMES.get("timezone"), AUDITED == [])
    # A lowered limit of open files fails the test file's next import; a codec's handler
    # of its own (`register_error("replace", ...)`) changes what a later `decode` returns.
    process = ([GET_LIMIT(n) for n in LIMITS], GETCWD(), [ERROR_HANDLER(h) for h in HANDLERS])
    return kept, fresh, numbers, hooks, process, THREADS() == 0


def changes(writing=False):
    """What the calls changed of what is watched, or whether they left code to run at a
    later collection (a `__del__` that makes its cycle again leaves garbage for a second).
    `writing`: only what writing a value reads, before it is written."""
    if not writing:
        COLLECT()
        if COLLECT():
            return ["code it left to run when the collector frees an object"]
    found = [] if writing or settings() == SETTINGS else ["a setting of the process, or a thread"]
    for label, get, module, reads, then in WATCHES:
        if writing and not reads:
            continue
        now = held(get(), module)
        gone = any(k not in now or not same_print(now[k], v) for k, v in then.items())
        # Importing a submodule adds it to its package: that is no change.
        if gone or any(type(now[k]) is not MODULE for k in now.keys() - then.keys()):
            found.append(label)
    return found


MODULE, REFERENTS = type(sys), gc.get_referents
# (And what pytest runs around every test: logging, contextlib, the import machinery.)
SHARED_MODULES = ("builtins", "collections", "collections.abc", "dataclasses", "datetime",
                  "decimal", "fractions", "json", "json.encoder", "math", "cmath", "numbers",
                  "uuid", "weakref", "zoneinfo", "zoneinfo._common", "zoneinfo._tzpath", "re",
                  "os", "time", "warnings", "locale", "logging", "contextlib",
                  "importlib._bootstrap", "importlib._bootstrap_external")  # fmt: skip
for shared in SHARED_MODULES:
    taken = importlib.import_module(shared)
    reads = shared.startswith("zoneinfo")  # what looks a zone up, as a value is written
    watch(f"the module {shared}", lambda m=taken: m.__dict__, module=True, writing=reads)
for t in (collections.Counter, FRACTION, UUID, dataclasses.Field):
    watch_class(t)
# The templates each thread's decimal context is copied from, a user's first one included.
CONTEXTS = (decimal.DefaultContext, decimal.BasicContext, decimal.ExtendedContext)
# A test of the generated file runs some 35 frames deep in pytest; a call here, a few: it
# has no more room to recurse here than there.
sys.setrecursionlimit(sys.getrecursionlimit() - 50)
FIELD, FIELD_KIND = dataclasses.Field, dataclasses.__dict__["_FIELD"]
FIELD_NAME = dataclasses.Field.__dict__["name"].__get__
FIELD_KIND_OF = dataclasses.Field.__dict__["_field_type"].__get__
THREADS = _thread._count
COLLECT = gc.collect
GETTRACE, GETPROFILE, LOCALE = sys.gettrace, sys.getprofile, _locale.setlocale
INT_DIGITS, RECURSION, ZONE_NAMES = sys.get_int_max_str_digits, sys.getrecursionlimit, vars(time)
GET_LIMIT, GETCWD, ERROR_HANDLER = resource.getrlimit, os.getcwd, codecs.lookup_error
LIMITS = [getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")]
HANDLERS = ("strict", "ignore", "replace", "backslashreplace", "xmlcharrefreplace",
            "namereplace", "surrogateescape", "surrogatepass")  # fmt: skip
AUDITED: list = []


TESTER = ("pytest", "_pytest", "py", "pluggy")  # the test file's, its `pytest.raises`


def audited(event, args):
    """An audit hook of the runner's, first of all: one the code adds after it runs in a
    user's process too (on every import, open, exec...); and pytest imported by model code
    (not by a user's own module, run as it is), which could rewrite what the test reads."""
    if event == "sys.addaudithook":
        AUDITED.append(event)
    elif event == "import" and cfg.get("names") is not None:
        if type(args[0]) is str and args[0].partition(".")[0] in TESTER:
            AUDITED.append(event)


sys.addaudithook(audited)
SETTINGS = settings()
SYS, ENVIRONMENT = vars(sys), getattr(os.environ, "_data", None)
# What a user's process shares with the calls beyond the modules watched: the modules
# imported (`sys.modules["uuid"] = None` makes the test file's `import uuid` fail), the
# import system, the standard streams and hooks, the environment, the collector's callbacks
# and the warnings filters (`simplefilter("error")` fails a later test that warns).
SHARED = ("modules", "meta_path", "path_hooks", "path", "stdin", "stdout", "stderr",
          "displayhook", "excepthook", "unraisablehook", "breakpointhook", "gettrace",
          "getprofile", "getrecursionlimit", "get_int_max_str_digits")  # fmt: skip


def process_state():
    found = {name: SYS.get(name) for name in SHARED}
    lists = [(name, SYS.get(name)) for name in ("meta_path", "path_hooks", "path")]
    lists += [("callbacks", gc.callbacks), ("filters", vars(warnings).get("filters"))]
    for name, items in lists:
        found.update({(name, i): x for i, x in enumerate(items if type(items) is list else ())})
    if type(ENVIRONMENT) is dict:
        found.update({("environment", k): v for k, v in ENVIRONMENT.items()})
    return found


watch("the process's modules, import system, streams, hooks or environment", process_state)
# (The modules imported by now: the test file's `_same` imports them again at each test. An
# import adds other entries, not all of them modules: `typing` adds `typing.io`.)
watch("the modules imported", lambda names=list(LOADED): {n: LOADED.get(n) for n in names})
RE, PATTERN, RECOMPILE = vars(re), re.Pattern, importlib.import_module("re._compiler").compile
CHECKED: dict = {}  # id of each pattern in re's cache found as compiled -> its key


def patterns():
    """Whether each pattern in re's cache is what its key compiles to (a call could leave
    another there for the test file's `re.sub` to use)."""
    for key, value in list(RE.get("_cache", {}).items()):
        if CHECKED.get(id(value)) is key:
            continue
        # By identity: `in` compares with `==`, which a metaclass answers as it likes.
        text_type = type(key[1]) if type(key) is tuple and len(key) == 3 else None
        if (text_type is not str and text_type is not bytes) or key[0] is not text_type:
            return {"as compiled": False}
        if type(value) is not PATTERN or value.pattern is not key[1] or type(key[2]) is not int:
            return {"as compiled": False}
        if RECOMPILE(key[1], key[2]).flags != value.flags:
            return {"as compiled": False}
        CHECKED[id(value)] = key
    return {"as compiled": True}


watch("re's cache of patterns", patterns)
# The built-in exceptions, by identity: a class of the module's own that only claims the
# name (`type("ValueError", (Exception,), {"__module__": "builtins"})`) is not one.
BUILTIN_ERRORS = {
    id(v): v
    for v in vars(builtins).values()
    if isinstance(v, type) and issubclass(v, BaseException)
}
# The standard library's exceptions the spec's examples name (`json.JSONDecodeError`), by
# identity, taken before the module under test is imported: a call can rewrite a module
# (`json.decoder.JSONDecodeError = Fake`), and a class can claim any `__module__`.
NAMED_ERRORS = {}
NEVER_IMPORT = frozenset(cfg["never_import"])  # modules whose import runs a program
for named in cfg["exceptions"]:
    where, _, last = named.rpartition(".")
    root = where.split(".")[0]
    if root in sys.stdlib_module_names and root not in NEVER_IMPORT:
        try:
            found = getattr(importlib.import_module(where), last, None)
        except Exception:
            continue
        if isinstance(found, type) and issubclass(found, BaseException):
            NAMED_ERRORS[id(found)] = (found, found.__module__ + "." + found.__qualname__)
RECORDS: dict = {}  # id of each declared class -> (the class, its name), after the import
# What a call's names mean, as the generated tests have them: the builtins, and the standard
# library modules (and value types) the calls name, taken before the module under test is
# imported; the spec's functions and types (`cfg["names"]`), taken from it once it is. None
# of the module's other globals: a `class datetime` or a `def list` of its own would make
# the call another than the tests'. (Without `cfg["names"]`, for a user's own module run as
# it is, a call reads the module's globals.)
BUILTINS = dict(vars(builtins))
MODULES = {}
FACTORIES = {id(BUILTINS.get(n)): (BUILTINS.get(n), n) for n in cfg.get("factories", ())}
HELD = {id(sys), *(id(LOADED[name]) for name in SHARED_MODULES)}  # modules held already


def hold_module(taken, inner=True):
    """Hold a module's names, and (`inner`) those of the standard modules it holds: a call
    that rewrites `os.path.join` or base64's `binascii` changes what the named one does."""
    if id(taken) not in HELD:
        HELD.add(id(taken))
        watch(f"the module {taken.__name__}", lambda m=taken: m.__dict__, module=True)
    for value in list(vars(taken).values()) if inner else ():
        name = getattr(value, "__name__", None) if type(value) is MODULE else None
        if type(name) is str and name.partition(".")[0] in sys.stdlib_module_names:
            hold_module(value, inner=False)


for named in cfg.get("modules", ()):
    if named in sys.stdlib_module_names and named not in NEVER_IMPORT:
        try:
            MODULES[named] = importlib.import_module(named)
        except Exception:
            continue
        hold_module(MODULES[named])
# The standard value types the calls build by their own names (`Decimal('1')`), from their
# modules, as the generated tests import them.
for named, where in cfg.get("classes", {}).items():
    if where in sys.stdlib_module_names and where not in NEVER_IMPORT:
        try:
            owner = importlib.import_module(where)
            MODULES[named] = getattr(owner, named)
        except Exception:
            continue
        hold_module(owner)


def exactly(t, types):
    """The one of `types` that `t` is (identity, not equality: a metaclass can make a class
    equal to anything); None if none."""
    return next((u for u in types if t is u), None)


def value_of(v, t):
    """["value", type name, text] of a value type's instance; None if `t` is none of them
    (or its time zone is a class of the module's own)."""
    if t is FRACTION:
        n, d = (part.__get__(v) for part in FRACTION_PARTS)
        if type(n) is not int or type(d) is not int:
            return None
        return ["value", "fractions.Fraction", f"Fraction({n}, {d})"]
    if t is UUID:
        number = UUID_INT.__get__(v)
        if type(number) is not int or not 0 <= number < 1 << 128:
            return None
        h = format(number, "032x")
        return ["value", "uuid.UUID", f"UUID('{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}')"]
    u = exactly(t, REPRS)
    if u is None:
        return None
    name, show = REPRS[u]
    zone = TZINFO[u].__get__(v) if u in TZINFO else None
    if zone is not None:
        if type(zone) is ZONE_INFO:
            # A zone's repr is its key, which `ZoneInfo.from_file` lets any data claim (or
            # leave out: then the repr is the file's): the offset it gives at this value is
            # compared too, and a zone without a key is no value.
            if type(zone.key) is not str:
                return None
            name += " at UTC" + repr(UTCOFFSET[u](v))
            if u is datetime.datetime and not cached_zone(zone):
                # Two datetimes in different zone objects compare as instants, and an
                # instant in a fold or a gap, of either zone, is equal to none: `==` tells
                # them apart. (The zone its key names may have one where this has none.)
                if ambiguous(v, u) or ambiguous(v.replace(tzinfo=real_zone(zone.key)), u):
                    name += " in a zone object of its own"
        # A fixed zone's repr shows its name through the name's own repr: a str subclass
        # could write anything there.
        elif type(zone) is not FIXED_ZONE or type(ZONE_NAME(zone, None)) is not str:
            return None
    text = show(v)[:2000]
    return ["value", name, text] if text.isprintable() else None


def ambiguous(v, u):
    """Whether `v`'s local time is in a fold or a gap of its zone (or has no real zone)."""
    if TZINFO[u].__get__(v) is None:
        return True
    return UTCOFFSET[u](v.replace(fold=1 - v.fold)) != UTCOFFSET[u](v)


def real_zone(key):
    """The zone `ZoneInfo(key)` gives, as an expected value has it; None if none."""
    try:
        return ZONE_INFO(key)
    except Exception:
        return None


def cached_zone(zone):
    """Whether `zone` is the instance `ZoneInfo(key)` gives (as the spec's expected values
    have theirs), not one of `ZoneInfo.no_cache` or `from_file`."""
    try:
        return ZONE_INFO(zone.key) is zone
    except Exception:
        return False


class CallTimeout(BaseException):
    pass


def alarm(signum, frame):
    raise CallTimeout()
