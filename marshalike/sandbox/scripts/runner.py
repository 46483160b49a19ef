"""The runner: imports the module under test, then answers calls read from stdin, one
line of tagged plain data per call (see channel.py). It runs inside the
sandbox, so it imports nothing from marshalike."""

import dataclasses
import importlib
import json
import os
import re
import signal
import sys
import traceback

cfg = json.loads(sys.argv[1])
requests = os.fdopen(os.dup(0), "rb")
answers = os.fdopen(os.dup(1), "wb")
null = os.open(os.devnull, os.O_RDWR)
os.dup2(null, 0)
os.dup2(2, 1)
sys.path.insert(0, os.getcwd())
VALUES = {
    "decimal.Decimal",
    "fractions.Fraction",
    "datetime.date",
    "datetime.datetime",
    "datetime.time",
    "datetime.timedelta",
    "uuid.UUID",
}
DICTS = {"collections.OrderedDict", "collections.defaultdict", "collections.Counter"}
RECORDS = {}  # the declared classes themselves (by identity), once the module is imported


class CallTimeout(BaseException):
    pass


def alarm(signum, frame):
    raise CallTimeout()


def name_of(t):
    return getattr(t, "__module__", "?") + "." + getattr(t, "__qualname__", "?")


def encode(v, depth, budget):
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
    if t is dict or name_of(t) in DICTS:
        return [
            "dict",
            [
                [encode(k, depth + 1, budget), encode(x, depth + 1, budget)]
                for k, x in dict.items(v)
            ],
        ]
    if t in RECORDS and dataclasses.is_dataclass(t):
        fields = [
            [f.name, encode(object.__getattribute__(v, f.name), depth + 1, budget)]
            for f in dataclasses.fields(t)
        ]
        return ["record", RECORDS[t], fields]
    if name_of(t) in VALUES:
        return ["value", name_of(t), repr(v)[:2000]]
    bases = [name_of(b) for b in t.__mro__[1:] if b.__module__ == "builtins"]
    return ["object", name_of(t), bases[0] if bases else "builtins.object"]


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
        "mro": [name_of(b) for b in t.__mro__],
        "message": message,
        "traceback": tail,
    }


def send(record):
    answers.write(json.dumps(record).encode() + b"\n")
    answers.flush()


signal.signal(signal.SIGALRM, alarm)
try:
    signal.setitimer(signal.ITIMER_REAL, cfg["import_timeout"])
    module = importlib.import_module(cfg["module"])
    signal.setitimer(signal.ITIMER_REAL, 0)
    for record in cfg["records"]:
        owner, _, qualname = record.rpartition(".")
        cls = getattr(importlib.import_module(owner), qualname, None)
        if isinstance(cls, type):
            RECORDS[cls] = qualname
except BaseException as exc:
    signal.setitimer(signal.ITIMER_REAL, 0)
    send({"id": cfg["hello"], "import_error": raised(exc)})
    sys.exit(0)
namespace = dict(vars(module))
send({"id": cfg["hello"], "ready": True})
for line in requests:
    request = json.loads(line)
    call = request["call"]
    scope = dict(namespace)
    for name in set(re.findall(r"[A-Za-z_]\w*", call)):
        if name not in scope and name in sys.stdlib_module_names:
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
        answer["returned"] = encode(value, 0, [200000])
    except CallTimeout:
        answer["timeout"] = True
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        answer["raised"] = raised(exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    send(answer)
