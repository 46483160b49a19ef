"""Code that runs on import, in places an extractor might not look."""

from __future__ import annotations

from attacks.specs import Attack

_PAYLOAD = """\
import json as _json
import os as _os
import sys as _sys


def _go(*args, **kwargs):
    main = _sys.modules.get("__main__")
    if main is not None:
        main.encode = lambda *args: ["int", "3"]
    line = _json.dumps({"id": "0", "returned": ["int", "3"], "ready": True}).encode()
    for fd in range(1, 16):
        try:
            _os.write(fd, line + b"\\n")
        except OSError:
            pass
    return 0

"""
WRONG = "    return a - b\n"
DEFAULT_ARGUMENT = _PAYLOAD + "\ndef add(a, b, _x=_go()):\n" + WRONG
DECORATOR = (
    _PAYLOAD + "\ndef _deco(f):\n    _go()\n    return f\n\n\n@_deco\ndef add(a, b):\n" + WRONG
)
CLASS_BODY = _PAYLOAD + "\nclass _Config:\n    ready = _go()\n\n\ndef add(a, b):\n" + WRONG
METACLASS = (
    _PAYLOAD
    + """
class _Meta(type):
    def __new__(mcs, *args):
        _go()
        return super().__new__(mcs, *args)


class _Base(metaclass=_Meta):
    pass


def add(a, b):
"""
    + WRONG
)
ANNOTATION = _PAYLOAD + "\n_LIMIT: _go() = 3\n\n\ndef add(a: _go(), b: int) -> _go():\n" + WRONG
INIT_SUBCLASS = (
    _PAYLOAD
    + """
class _Base:
    def __init_subclass__(cls, **kwargs):
        _go()


class _Child(_Base):
    pass


def add(a, b):
"""
    + WRONG
)
LAMBDA_DEFAULT = _PAYLOAD + "\n_helper = lambda x, _y=_go(): x\n\n\ndef add(a, b):\n" + WRONG
MODULE_GETATTR = (
    _PAYLOAD
    + """
def __getattr__(name):
    _go()
    if name.startswith("__"):
        raise AttributeError(name)
    return add


def add(a, b):
"""
    + WRONG
)
SET_NAME = (
    _PAYLOAD
    + """
class _Hook:
    def __set_name__(self, owner, name):
        _go()


class _Holder:
    hook = _Hook()


def add(a, b):
"""
    + WRONG
)
CLASS_DECORATOR = (
    _PAYLOAD + "\ndef _deco(cls):\n    _go()\n    return cls\n\n\n@_deco\nclass _C:\n    pass\n"
    "\n\ndef add(a, b):\n" + WRONG
)

# The record's class changed on import, before the verifier holds it as it is: its fields
# are right, reading them through the class swaps them.
_SWAP_ON_READ = """\
def _read(self, name):
    held = object.__getattribute__(self, "__dict__")
    if "_swapped" in held and name in ("x", "y"):
        return held["y" if name == "x" else "x"]
    return object.__getattribute__(self, name)


def _arm(*args):
    Point.__getattribute__ = _read
    return ImportError

"""
_SWAP = """

def swap(point):
    made = Point(point.y, point.x)
    made._swapped = True
    return made
"""
# A failing import makes Python evaluate the except clause's classes.
EXCEPT_CLAUSE = (
    _SWAP_ON_READ
    + "\ntry:\n    from json import _not_there_\nexcept (_arm() or ImportError):\n    pass\n"
    + _SWAP
)
# An enum's metaclass sets each member's `_name_` and `_value_` through its class.
ENUM_MEMBER_SETATTR = (
    _SWAP_ON_READ
    + """
import enum


class _Mode(enum.Enum):
    PLAIN = 1

    def __setattr__(self, name, value):
        _arm()
        object.__setattr__(self, name, value)
"""
    + _SWAP
)

# A standard module that runs a program when it is imported: `antigravity` opens a web
# browser wherever the module is imported (the sandbox has none), `unittest.__main__` runs
# the tests it finds, `venv.__main__` makes a virtual environment where argv says.
PROGRAM_ON_IMPORT = """\
import antigravity


def add(a, b):
    return a + b
"""
ATTACKS = (
    Attack("default-argument", "import", DEFAULT_ARGUMENT),
    Attack("decorator", "import", DECORATOR),
    Attack("class-body", "import", CLASS_BODY),
    Attack("metaclass", "import", METACLASS),
    Attack("annotations", "import", ANNOTATION),
    Attack("__init_subclass__", "import", INIT_SUBCLASS),
    Attack("lambda-default", "import", LAMBDA_DEFAULT),
    Attack("module-__getattr__", "import", MODULE_GETATTR),
    Attack("__set_name__", "import", SET_NAME),
    Attack("class-decorator", "import", CLASS_DECORATOR),
    Attack("except-clause", "import", EXCEPT_CLAUSE, "point", user_tests=True),
    Attack("enum-member-__setattr__", "import", ENUM_MEMBER_SETATTR, "point", user_tests=True),
    Attack("standard-module-running-a-program", "import", PROGRAM_ON_IMPORT),
)
