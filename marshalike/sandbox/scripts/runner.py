"""The runner: imports the module under test, then answers calls read from stdin, one
line of tagged plain data per call (see channel.py). It runs inside the sandbox, after
`before_import.py` in the same program, whose names it takes from `__main__`."""

import collections
import dataclasses
import gc
import importlib
import re
import signal
import sys
import traceback

from __main__ import (
    BUILTIN_ERRORS,
    BUILTINS,
    DICTS,
    DUMP,
    FACTORIES,
    FIELD,
    FIELD_KIND,
    FIELD_KIND_OF,
    FIELD_NAME,
    FLUSH,
    FUNCTION,
    ITEMS,
    LOAD,
    MODULE_OF,
    MODULES,
    MRO_OF,
    NAMED_ERRORS,
    NEVER_IMPORT,
    OWN_ATTRIBUTES,
    QUALNAME_OF,
    RECORDS,
    WRITE,
    CallTimeout,
    alarm,
    as_emitted,
    cfg,
    changes,
    exactly,
    fields_of,
    name_of,
    requests,
    value_of,
    watch,
    watch_class,
)


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
    if t is list or t is tuple:
        return [t.__name__, [encode(x, depth + 1, budget) for x in v]]
    if t is set or t is frozenset:
        listed = list(v)
        members = [encode(x, depth + 1, budget) for x in listed]
        if not whole(listed, members, t.__contains__, v):
            return ["object", name_of(t) + MOVED, "builtins.object"]
        return [t.__name__, members]
    kind = exactly(t, DICTS)
    if kind in OWN_ATTRIBUTES and OWN_ATTRIBUTES[kind](v):
        # Methods of its own (`found.items = ...`), which its callers would call.
        return ["object", DICTS[kind] + " with attributes of its own", "builtins.object"]
    if t is dict or kind is not None:
        written = [DICTS[kind]] if kind is not None else []
        if kind is collections.defaultdict:  # its factory runs when a missing key is read
            factory = FACTORIES.get(id(v.default_factory), (None, None))
            if factory[0] is not v.default_factory:
                own = "collections.defaultdict with a factory of its own"
                return ["object", own, "builtins.object"]
            written.append(factory[1])
        pairs = list(ITEMS.get(kind, dict.items)(v))
        items = [[encode(k, depth + 1, budget), encode(x, depth + 1, budget)] for k, x in pairs]
        if not whole([k for k, _ in pairs], [k for k, _ in items], dict.__contains__, v):
            return ["object", name_of(t) + MOVED, "builtins.object"]
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
    bases = [name_of(b) for b in MRO_OF(t)[1:] if MODULE_OF(b) == "builtins"]
    return ["object", name_of(t), bases[0] if bases else "builtins.object"]


MOVED = " whose members are not where it holds them"


def whole(listed, written, contains, held):
    """Whether a set or dict finds each of its members where it holds them: one whose hash
    changed after it went in (a Fraction's slots rewritten) is missed by `in` and `==`,
    or is a second copy of another, while the values written agree with the expected.
    Members are looked up only where all are plain values: a foreign one runs no code
    here (and matches nothing anyway)."""
    if not all(plain(m) for m in written):
        return True
    return len(set(listed)) == len(listed) and all(contains(held, x) for x in listed)


def plain(written):
    """Whether a written set member or dict key is a value, foreign objects in it none."""
    if written[0] == "object" or written[0] == "too-large":
        return False
    if written[0] == "tuple" or written[0] == "frozenset":
        return all(plain(x) for x in written[1])
    return True


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


TRACEBACK_OF = BaseException.__dict__["__traceback__"].__get__


def raised(exc, code=None):
    """What `exc` is; with the call's `code`, where in the call's text it left it (the
    UTF-8 columns of what ran there: the call, or one of its arguments)."""
    t = type(exc)
    try:
        message = str(exc)[:2000]
    except BaseException:
        message = ""
    tail = "".join(traceback.format_exception(t, exc, exc.__traceback__)).splitlines()[-8:]
    qualname, module = QUALNAME_OF(t), MODULE_OF(t)
    found = {
        "type": qualname if type(qualname) is str else "?",
        "module": module if type(module) is str else "?",
        "mro": [lineage_name(b) for b in MRO_OF(t)],
        "message": message,
        "traceback": tail,
    }
    # The first entry of the call's own code: the interpreter adds it as the error leaves
    # that code, after anything the code under test did to the traceback it raised (read
    # past the class, which could answer `__traceback__` with one of its own making).
    entry = TRACEBACK_OF(exc)
    while code is not None and entry is not None and entry.tb_frame.f_code is not code:
        entry = entry.tb_next
    if code is not None and entry is not None:
        found["at"] = list(list(code.co_positions())[entry.tb_lasti // 2][2:])
    return found


def send(record):
    line = "".join(DUMP(record, 0)).encode("utf-8", "surrogatepass")
    if len(line) >= cfg["answer_bytes"] and "returned" in record:
        line = "".join(DUMP({"id": record["id"], "returned": ["too-large"]}, 0)).encode()
    WRITE(line + b"\n")
    FLUSH()


def hold(local):
    """Import the module `local` (the module under test, or a used spec's) and hold its
    functions and classes, and its records, as they are now; and that it gains no name (a
    global `sum` the module's functions would read in place of the builtin; the
    interpreter's own, `__warningregistry__`, aside)."""
    found = importlib.import_module(local)
    defined = {k for k, v in vars(found).items() if type(v) in (FUNCTION, type)}
    had = set(vars(found))
    watch(
        f"the module {local}",
        lambda m=found, d=defined, h=had: {
            k: v for k, v in list(vars(m).items()) if k in d or (k not in h and k[:2] != "__")
        },
        module=True,
    )
    for record in cfg["records"]:
        owner, _, qualname = record.rpartition(".")
        cls = vars(found).get(qualname) if owner == local else None
        if isinstance(cls, type) and dataclasses.is_dataclass(cls) and as_emitted(cls):
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
    return found


signal.signal(signal.SIGALRM, alarm)
try:
    signal.setitimer(signal.ITIMER_REAL, cfg["import_timeout"])
    # The used specs' modules first, held as they are before the module's code runs (not
    # for a user's own module, run as it is: the files beside it are imported as it asks).
    used_modules = {}
    for local in cfg["local"] if cfg.get("names") is not None else ():
        if local != cfg["module"]:
            used_modules[local] = hold(local)
    module = hold(cfg["module"])
    for local in cfg["local"] if cfg.get("names") is None else ():
        if local != cfg["module"] and local in sys.modules:
            hold(local)
    signal.setitimer(signal.ITIMER_REAL, 0)
except BaseException as exc:
    signal.setitimer(signal.ITIMER_REAL, 0)
    send({"id": cfg["hello"], "import_error": raised(exc)})
    sys.exit(0)
if cfg.get("names") is None:
    namespace = dict(vars(module))
else:
    namespace = {"__builtins__": BUILTINS, **MODULES}
    # A used spec's function from its module, as the generated tests import it: the module
    # under test may have bound another object to its name.
    owners = {n: used_modules.get(m, module) for n, m in cfg["imported"].items()}
    for name in cfg["names"]:
        if name in vars(owners.get(name, module)):
            namespace[name] = vars(owners.get(name, module))[name]
    watch(
        f"the names of {cfg['module']}",
        lambda: {n: vars(owners.get(n, module)).get(n) for n in cfg["names"]},
    )
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
            if name not in NEVER_IMPORT:
                try:
                    scope[name] = importlib.import_module(name)
                except BaseException:
                    pass
    answer, value, error = {"id": request["id"]}, None, None
    code = None
    try:
        try:  # the timer is off before either handler runs: a late alarm is a timeout
            signal.setitimer(signal.ITIMER_REAL, request["timeout"])
            code = compile(call.lstrip(" \t"), "<string>", "eval")  # as `eval` strips it
            value = eval(code, scope)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except CallTimeout:
        answer["timeout"] = True
    except BaseException as exc:
        error = exc
    # What it returned or raised is written only once what writing it reads is found as
    # it was (a zone's lookup in zoneinfo's cache), and counts only if writing it ran
    # nothing that could fail or change anything: a value that raises as it is read was
    # not raised.
    changed = changes(writing=True)
    if not changed and "timeout" not in answer:
        try:
            if error is not None:
                answer["raised"] = raised(error, code)
            else:
                answer["returned"] = encode(value, 0, budget := [200000])
                if 200000 - budget[0] <= KEPT[0]:  # kept while they take few nodes to write
                    KEPT[0] -= 200000 - budget[0]
                    RETURNED.append((value, answer["returned"]))
        except BaseException:
            changed = ["a value or an error that could not be written"]
        changed = changed or changes() + later_changes()
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
