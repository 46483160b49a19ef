"""The runner: imports the module under test, then answers calls read from stdin, one
line of tagged plain data per call (see channel.py). It runs inside the sandbox, so it
imports nothing from marshalike."""

import _json
import _thread
import builtins
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
import signal
import sys
import traceback
import uuid
import weakref
import zoneinfo

cfg = json.loads(sys.argv[1])
requests = os.fdopen(os.dup(0), "rb")
answers = os.fdopen(os.dup(1), "wb")
# Answers are written, and calls read, by the C parts of `json` taken here, before the
# module under test is imported: `json.dumps` and the encoder it looks up at every call are
# the module's to replace (`box = [json]; setattr(box[0], "dumps", ...)`), which would let
# the code write the right value while it returns another. (Answers hold plain data only.)
DUMP = _json.make_encoder(None, str, _json.encode_basestring_ascii, None, ":", ",",
                          False, False, True)  # fmt: skip
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
# An OrderedDict's items in its own order (`move_to_end` leaves the dict's storage as it was).
ITEMS = {collections.OrderedDict: collections.OrderedDict.items}
# What calls share with the rest of the process: the standard modules and classes values
# and comparisons go through, the module's names and records. A call that changes one
# (`type(c).items = ...`, `collections.Counter = dict`, `global f; f = g`) shows its
# callers other values than the ones written: what it answered does not count.
WATCHES: list[tuple] = []


class Print(tuple):
    """A function's fingerprint: compared item by item, by identity."""


def fingerprint(v):
    """A value in a class or module: the object, and a function's code, defaults, closure."""
    if type(v) in (staticmethod, classmethod):
        return Print((v, fingerprint(v.__func__)))
    if type(v) is property:
        return Print((v, fingerprint(v.fget), fingerprint(v.fset), fingerprint(v.fdel)))
    if type(v) is FUNCTION:
        cells = []
        for cell in v.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:
                cells.append(Print)  # an empty cell: a marker no content is
        return Print((v, v.__code__, v.__defaults__, v.__kwdefaults__, *cells))
    return v


def same_print(a, b):
    if type(a) is Print and type(b) is Print:
        return len(a) == len(b) and all(map(same_print, a, b))
    return a is b


FUNCTION = type(fingerprint)


def held(mapping):
    return {k: fingerprint(v) for k, v in list(mapping.items())}


def watch(label, get):
    """Hold `get()` (a mapping) as it is now, under `label`."""
    WATCHES.append((label, get, held(get())))


def watch_class(t):
    for c in t.__mro__:
        if not c.__flags__ & (1 << 8):  # a class whose dict can change (not the C types')
            watch(f"the class {c.__module__}.{c.__qualname__}", lambda c=c: c.__dict__)
    watch(f"the bases of {t.__qualname__}", lambda: {"mro": t.__mro__, "type": type(t)})


def fields_of(table):
    """A record's field table as it is now: each entry, and the name a real field has."""
    return {k: Print((f, FIELD_NAME(f) if type(f) is FIELD else None)) for k, f in table.items()}


def settings():
    """Process-wide settings (decimal's context, int text, recursion), and whether a thread
    a call started still runs (it could change a value after it was written)."""
    context = decimal.getcontext()
    return (
        context.prec, context.rounding, context.Emin, context.Emax, context.capitals,
        context.clamp, dict(context.traps), type(context) is decimal.Context,
        sys.get_int_max_str_digits(), sys.getrecursionlimit(), THREADS() == 0,
    )  # fmt: skip


def changes():
    """What the calls changed of what is watched, or whether they left code to run at a
    later collection (a `__del__` that makes its cycle again leaves garbage for a second)."""
    COLLECT()
    if COLLECT():
        return ["code it left to run when the collector frees an object"]
    found = [] if settings() == SETTINGS else ["a setting of the process, or a thread"]
    for label, get, then in WATCHES:
        now = held(get())
        gone = any(k not in now or not same_print(now[k], v) for k, v in then.items())
        # Importing a submodule adds it to its package: that is no change.
        if gone or any(type(now[k]) is not MODULE for k in now.keys() - then.keys()):
            found.append(label)
    return found


MODULE = type(sys)
for shared in ("builtins", "collections", "collections.abc", "dataclasses", "datetime",
               "decimal", "fractions", "json", "json.encoder", "math", "cmath", "numbers", "uuid",
               "weakref", "zoneinfo"):  # fmt: skip
    taken = importlib.import_module(shared)
    watch(f"the module {shared}", lambda m=taken: m.__dict__)
# (WeakValueDictionary holds zoneinfo's cache of zones, which ZoneInfo(key) reads.)
for t in (collections.Counter, FRACTION, UUID, dataclasses.Field, weakref.WeakValueDictionary):
    watch_class(t)
FIELD, FIELD_KIND = dataclasses.Field, dataclasses.__dict__["_FIELD"]
FIELD_NAME = dataclasses.Field.__dict__["name"].__get__
FIELD_KIND_OF = dataclasses.Field.__dict__["_field_type"].__get__
THREADS = _thread._count
COLLECT = gc.collect
SETTINGS = settings()
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
for named in cfg["exceptions"]:
    where, _, last = named.rpartition(".")
    if where.split(".")[0] in sys.stdlib_module_names and where not in ("antigravity", "this"):
        try:
            found = getattr(importlib.import_module(where), last, None)
        except Exception:
            continue
        if isinstance(found, type) and issubclass(found, BaseException):
            NAMED_ERRORS[id(found)] = (found, found.__module__ + "." + found.__qualname__)
RECORDS = {}  # id of each declared class -> (the class, its name), once the module is imported
# What a call's names mean, as the generated tests have them: the builtins, and the standard
# library modules the calls name, taken before the module under test is imported; the
# spec's functions and types (`cfg["names"]`), taken from it once it is. None of the
# module's other globals: a `class datetime` or a `def list` of its own would make the call
# another than the tests'. (Without `cfg["names"]`, for a user's own module run as it is,
# a call reads the module's globals.)
BUILTINS = dict(vars(builtins))
MODULES = {}
FACTORIES = {id(BUILTINS.get(n)): (BUILTINS.get(n), n) for n in cfg.get("factories", ())}
for named in cfg.get("modules", ()):
    if named in sys.stdlib_module_names and named not in ("antigravity", "this"):
        try:
            MODULES[named] = importlib.import_module(named)
        except Exception:
            pass


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


def name_of(t):
    return getattr(t, "__module__", "?") + "." + getattr(t, "__qualname__", "?")


def encode(v, depth, budget):
    """`v` as tagged plain data."""
    budget[0] -= 1
    if depth > 200 or budget[0] < 0:
        return ["too-large"]
    t = type(v)
    if v is None:
        return ["None"]
    if t is bool:
        return ["bool", v]
    if t is int:
        return ["int", format(v, "x")]
    if t is float:
        return ["float", v.hex()]
    if t is complex:
        return ["complex", v.real.hex(), v.imag.hex()]
    if t is str:
        return ["str", v]
    if t is bytes or t is bytearray:
        return [t.__name__, v.hex()]
    if t is list or t is tuple or t is set or t is frozenset:
        return [t.__name__, [encode(x, depth + 1, budget) for x in v]]
    kind = exactly(t, DICTS)
    if t is dict or kind is not None:
        written = [DICTS[kind]] if kind is not None else []
        if kind is collections.defaultdict:  # its factory runs when a missing key is read
            factory = FACTORIES.get(id(v.default_factory), (None, None))
            if factory[0] is not v.default_factory:
                own = "collections.defaultdict with a factory of its own"
                return ["object", own, "builtins.object"]
            written.append(factory[1])
        pairs = ITEMS.get(kind, dict.items)(v)
        items = [[encode(k, depth + 1, budget), encode(x, depth + 1, budget)] for k, x in pairs]
        return ["dict", items, *written]
    record = RECORDS.get(id(t))
    if record is not None and record[0] is t:
        # The instance's own dict, read with its keys checked: a key of a str subclass
        # (`"x"` by hash) runs its `__eq__` in a lookup, and could choose what each
        # reader of a field gets.
        held = object.__getattribute__(v, "__dict__")
        if type(held) is not dict or any(type(key) is not str for key in held):
            return ["object", name_of(t) + " with fields of its own", "builtins.object"]
        if any(name not in held for name in record[2]):
            return ["object", name_of(t) + " without its fields", "builtins.object"]
        fields = [[name, encode(held[name], depth + 1, budget)] for name in record[2]]
        return ["record", record[1], fields]
    if (value := value_of(v, t)) is not None:
        return value
    bases = [name_of(b) for b in t.__mro__[1:] if b.__module__ == "builtins"]
    return ["object", name_of(t), bases[0] if bases else "builtins.object"]


def lineage_name(t):
    """A class's name in an exception's lineage: a built-in exception, or one the examples
    name, by identity; any other class by its own names, marked where they claim to be
    the standard library's."""
    if BUILTIN_ERRORS.get(id(t)) is t:
        return "builtins." + t.__name__
    named = NAMED_ERRORS.get(id(t))
    if named is not None and named[0] is t:
        return named[1]
    name = name_of(t)
    if name.split(".")[0] in sys.stdlib_module_names:  # builtins and the rest
        return "(not the standard library's) " + name
    return name


def raised(exc):
    t = type(exc)
    try:
        message = str(exc)[:2000]
    except BaseException:
        message = ""
    tail = "".join(traceback.format_exception(t, exc, exc.__traceback__)).splitlines()[-8:]
    return {
        "type": t.__qualname__,
        "module": t.__module__,
        "mro": [lineage_name(b) for b in t.__mro__],
        "message": message,
        "traceback": tail,
    }


def send(record):
    line = "".join(DUMP(record, 0)).encode()
    if len(line) >= cfg["answer_bytes"] and "returned" in record:
        line = "".join(DUMP({"id": record["id"], "returned": ["too-large"]}, 0)).encode()
    WRITE(line + b"\n")
    FLUSH()


signal.signal(signal.SIGALRM, alarm)
try:
    signal.setitimer(signal.ITIMER_REAL, cfg["import_timeout"])
    module = importlib.import_module(cfg["module"])
    signal.setitimer(signal.ITIMER_REAL, 0)
    for record in cfg["records"]:
        owner, _, qualname = record.rpartition(".")
        cls = getattr(importlib.import_module(owner), qualname, None)
        if isinstance(cls, type) and dataclasses.is_dataclass(cls):
            # A used module's type by its full name: `other.Point` is not this `Point`. Its
            # fields' names are taken now, as plain text: a field table the code fills
            # later with objects of its own would run their code as each value is written.
            table = cls.__dict__.get("__dataclass_fields__")
            table = table if type(table) is dict else {}
            kept = [f for f in table.values() if type(f) is FIELD]
            fields = [FIELD_NAME(f) for f in kept if FIELD_KIND_OF(f) is FIELD_KIND]
            if all(type(n) is str for n in fields):
                RECORDS[id(cls)] = (cls, qualname if owner == cfg["module"] else record, fields)
                watch_class(cls)
                watch(f"the fields of {qualname}", lambda t=table: fields_of(t))
except BaseException as exc:
    signal.setitimer(signal.ITIMER_REAL, 0)
    send({"id": cfg["hello"], "import_error": raised(exc)})
    sys.exit(0)
if cfg.get("names") is None:
    namespace = dict(vars(module))
else:
    namespace = {"__builtins__": BUILTINS, **MODULES}
    for name in cfg["names"]:
        if name in vars(module):
            namespace[name] = vars(module)[name]
    watch(f"the names of {cfg['module']}", lambda: {n: vars(module).get(n) for n in cfg["names"]})
for local in cfg["local"]:  # the module's and the used specs': their functions and classes
    found = sys.modules.get(local)
    if found is not None:
        defined = [k for k, v in vars(found).items() if type(v) in (FUNCTION, type)]
        watch(f"the module {local}", lambda m=found, d=defined: {k: vars(m).get(k) for k in d})
for shared in cfg.get("modules", ()):
    if shared in MODULES:
        watch(f"the module {shared}", lambda m=MODULES[shared]: m.__dict__)
# What the calls of this process returned, as written then: a later call that changes one
# (appends to a list it handed out) changes what its caller holds.
RETURNED: list[tuple] = []
KEPT_NODES = 50_000  # how much of them is written again after each call, at most
KEPT = [KEPT_NODES]
CHANGED = "(changed)"  # the mark of an answer that counts for nothing (values.CHANGED)


def later_changes():
    """The values returned before whose writing a call changed."""
    for value, then in RETURNED:
        try:
            same = encode(value, 0, [KEPT_NODES]) == then
        except Exception:
            same = False
        if not same:
            return ["a value an earlier call returned"]
    return []


def answer_of(request):
    """What the call did, as the answer record to send."""
    call = request["call"]
    scope = dict(namespace)
    for name in set(re.findall(r"[A-Za-z_]\w*", call)):
        if name not in scope and name in sys.stdlib_module_names and name not in BUILTINS:
            if name not in ("antigravity", "this"):
                try:
                    scope[name] = importlib.import_module(name)
                except BaseException:
                    pass
    answer = {"id": request["id"]}
    signal.setitimer(signal.ITIMER_REAL, request["timeout"])
    try:
        value = eval(call, scope)
        signal.setitimer(signal.ITIMER_REAL, 0)
        answer["returned"] = encode(value, 0, budget := [200000])
        if 200000 - budget[0] <= KEPT[0]:  # kept while they take few nodes to write
            KEPT[0] -= 200000 - budget[0]
            RETURNED.append((value, answer["returned"]))
    except CallTimeout:
        answer["timeout"] = True
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        answer["raised"] = raised(exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    changed = changes() + later_changes()
    if changed and "timeout" not in answer:
        # The call's answer stands for nothing its callers see.
        answer = {"id": request["id"], "returned": ["object", "; ".join(changed), CHANGED]}
    return answer


# What exists now is left out of the collections after each call (they look at what the
# calls made), which keeps each a fraction of a millisecond.
gc.freeze()
send({"id": cfg["hello"], "ready": True})
for line in requests:
    request = LOAD(line.decode(), 0)[0]
    answer = answer_of(request)
    send(answer)
    if answer.get("returned", [None, None, None])[2:] == [CHANGED]:
        sys.exit(0)  # nothing more this process answers counts: the next call gets a fresh one
