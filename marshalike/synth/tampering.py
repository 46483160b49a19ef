"""Code that senses or tampers with the harness that tests it, refused by name.

A function the spec asks for computes its result from its arguments. Code that reads the
call stack (to find the expected value), reaches other loaded modules (to patch the test
recorder), forks, ends the process, registers exit handlers, reads the environment or
`/proc` is trying to pass its tests without being right, so `extract` rejects it with a
problem that says why, and the loop repairs or drops the candidate.

The check reads names, a string constant a call reads an attribute by among them
(`getattr(os, "getcwd")` is `os.getcwd`), so code that builds a name at run time
(`getattr(sys, "_get" + "frame")`, `eval`) gets past it: the sandbox and a verdict decided
outside the candidate's process are what hold then. This makes the common attempts fail
early, with a message a model can act on.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from marshalike.language.exceptions import runs_on_import

# Top-level modules, and why importing one is refused.
MODULES = {
    "inspect": "reads the call stack and the tests' source",
    "traceback": "reads the call stack",
    "gc": "reaches every object of the test process",
    "weakref": "runs code when the collector frees an object, after the function returned",
    "ctypes": "writes the test process's memory",
    "_ctypes": "writes the test process's memory",
    "atexit": "runs code after the function returned",
    "posix": "forks and signals processes",
    "nt": "starts and signals processes",
    "_posixsubprocess": "starts other programs",
    "pty": "forks the process",
    "builtins": "can replace functions the tests rely on",
    "importlib": "loads modules by name",
    "_pytest": "reaches the test harness",
    "pytest": "reaches the test harness",
    "signal": "changes how the test process handles its time limit",
    "_signal": "changes how the test process handles its time limit",
    "subprocess": "starts other programs",
    "multiprocessing": "starts other processes",
    "threading": "runs code after the function returned",
    "_thread": "runs code after the function returned",
    "concurrent": "runs code after the function returned",
    "asyncio": "runs code after the function returned",
    "faulthandler": "dumps the test process's state",
    "marshalike": "reaches the compiler that checks this code",
    "_sre": "builds regular expressions whose text says another than they match",
    "sre_compile": "builds regular expressions whose text says another than they match",
    "sre_parse": "builds regular expressions whose text says another than they match",
    "resource": "reads the process's limits, which tell a test from a program",
    "site": "reads where and how Python was started, which tells a test from a program",
}
_FRAMES = "reads the call stack"
_PROCESSES = "forks, signals or ends the test process"
_ENVIRONMENT = "reads the environment"
_WHERE = "reads where or how the process runs, which tells a test from a program"
# Attributes of `sys` and `os`, and why using one is refused.
MODULE_ATTRIBUTES = {
    "sys": {
        "_getframe": _FRAMES,
        "_current_frames": _FRAMES,
        "modules": "reaches the other loaded modules",
        "settrace": "traces the test harness",
        "setprofile": "traces the test harness",
        "gettrace": "traces the test harness",
        "getprofile": "traces the test harness",
        "addaudithook": "hooks into the test process",
        "meta_path": "changes where modules are imported from",
        "path_hooks": "changes where modules are imported from",
        "path_importer_cache": "changes where modules are imported from",
        **dict.fromkeys(
            "flags path dont_write_bytecode executable prefix exec_prefix base_prefix"
            " base_exec_prefix".split(),
            _WHERE,
        ),
    },
    "os": {
        **dict.fromkeys(("environ", "environb", "getenv", "putenv", "unsetenv"), _ENVIRONMENT),
        **dict.fromkeys(
            (
                "fork",
                "forkpty",
                "_exit",
                "abort",
                "kill",
                "killpg",
                "setsid",
                "setpgid",
                "setpgrp",
                "system",
                "popen",
                "execv",
                "execve",
                "execl",
                "execle",
                "execlp",
                "execvp",
                "execvpe",
                "spawnv",
                "spawnl",
                "posix_spawn",
                "posix_spawnp",
                "register_at_fork",
            ),
            _PROCESSES,
        ),  # fmt: skip
        # Who and where the process runs as: the sandbox's user and host are its own.
        **dict.fromkeys(
            "uname getuid geteuid getgid getegid getgroups getlogin getresuid getresgid".split(),
            _WHERE,
        ),
    },
    "socket": dict.fromkeys(("gethostname", "getfqdn"), _WHERE),
    "platform": dict.fromkeys(("node", "uname"), _WHERE),
    # The locale comes from the environment, which the sandbox builds from nothing.
    "locale": dict.fromkeys(
        ("getlocale", "getdefaultlocale", "setlocale", "getpreferredencoding", "getencoding"),
        _ENVIRONMENT,
    ),
}
# Attribute names that mean tampering on whatever object they are read from.
ATTRIBUTES = {
    "_getframe": _FRAMES,
    "f_back": _FRAMES,
    "f_globals": _FRAMES,
    "f_locals": _FRAMES,
    "f_builtins": _FRAMES,
    "tb_frame": _FRAMES,
    "gi_frame": _FRAMES,
    "cr_frame": _FRAMES,
    "ag_frame": _FRAMES,
    "settrace": "traces the test harness",
    "setprofile": "traces the test harness",
    "environ": _ENVIRONMENT,
    "getenv": _ENVIRONMENT,
    # What these answer is the environment's: HOME, $NAME, TMPDIR, LOGNAME.
    **dict.fromkeys(
        ("expanduser", "expandvars", "gettempdir", "gettempdirb", "getuser"), _ENVIRONMENT
    ),
    "__subclasses__": "reaches every class of the test process",
    "__globals__": "reaches a module's globals through a function",
    "__code__": "reads or replaces a function's code",
    "__closure__": "reads a function's closure",
    "__builtins__": "can replace functions the tests rely on",
    "__bases__": "reaches classes of the test process",
    "__base__": "reaches classes of the test process",
    "__mro__": "reaches classes of the test process",
    # The verifier runs a copy of the module without docstrings (they list the examples).
    "__doc__": "reads a docstring, which the verifier's copy of the module does not have",
    "getdoc": "reads a docstring, which the verifier's copy of the module does not have",
    # Where and how the process runs: only a test harness differs there from a program.
    "argv": _WHERE,
    "orig_argv": _WHERE,
    "getcwd": _WHERE,
    "getcwdb": _WHERE,
    "cwd": _WHERE,
    "getpid": _WHERE,
    "getppid": _WHERE,
    "getpgrp": _WHERE,
    "getsid": _WHERE,
}
# Names that mean tampering wherever they are used.
NAMES = {
    "__import__": "imports modules by name",
    "__builtins__": "can replace functions the tests rely on",
    "globals": "reads or rewrites the module's globals",
    "breakpoint": "starts a debugger",
    "__doc__": "reads a docstring, which the verifier's copy of the module does not have",
    # Where the module's file is: the sandbox's folder under test, the user's otherwise.
    **dict.fromkeys(("__file__", "__spec__", "__loader__", "__cached__"), _WHERE),
}
_PROC = "names /proc, where the test process can be read"
_TAIL = "; a function may only compute its result from its arguments"


def problems(tree: ast.AST) -> list[str]:
    """One line per use of the harness, in source order, each saying why it is refused."""
    aliases = _module_aliases(tree)
    found: dict[tuple[int, int, int, str], None] = {}
    body = getattr(tree, "body", [])
    defined = {
        node.name
        for node in body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    assigned = {
        name.id
        for node in body
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        for name in ast.walk(target)
        if isinstance(name, ast.Name)
    }
    for node in ast.walk(tree):
        where = [getattr(node, key, 0) or 0 for key in ("lineno", "col_offset", "end_col_offset")]
        reasons = list(_reasons(node, aliases))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "__del__":
            reasons.append("`__del__` runs code when the collector frees an object, later")
        if isinstance(node, ast.Global):  # its callers hold the first; later ones get another
            reasons += [f"`global {n}` lets a call rebind what the module defines as {n}"
                        for n in node.names if n in defined]  # fmt: skip
            # A name this code does not bind at its top level is another function's.
            reasons += [f"`global {n}` rebinds a name this code does not define"
                        for n in node.names if n not in defined | assigned]  # fmt: skip
        for why in reasons:
            found[(where[0], where[1], where[2], why)] = None
    lines = dict.fromkeys(f"line {line}: {why}{_TAIL}" for line, _, _, why in sorted(found))
    return list(lines)


def _module_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> what it was imported as, for `import sys`, `import os as o`, `import
    os.path`, and `from json import decoder` (a module, a class or a function of one)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.partition(".")[0]
                aliases[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _reasons(node: ast.AST, aliases: dict[str, str]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield from _module_reason(alias.name)
    elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
        yield from _module_reason(node.module)
        table = MODULE_ATTRIBUTES.get(node.module, {})
        for alias in node.names:
            whole = f"{node.module}.{alias.name}"  # `from unittest import __main__`
            if runs_on_import(whole) and not runs_on_import(node.module):
                yield from _module_reason(whole)
            elif alias.name in table:
                yield f"`from {node.module} import {alias.name}` {table[alias.name]}"
            elif _private(alias.name):
                yield f"`from {node.module} import {alias.name}` {_PRIVATE}"
            elif alias.name in ATTRIBUTES:  # `from os import getcwd` reads `os.getcwd`
                yield f"`from {node.module} import {alias.name}` {ATTRIBUTES[alias.name]}"
    elif isinstance(node, ast.Attribute):
        yield from _attribute_reason(node, aliases)
        if isinstance(node.ctx, ast.Store | ast.Del):
            yield from _rewrite_reason(node, aliases)
    elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
        root: ast.expr = node  # `calendar.mdays[4] = 31`: a module's table rewritten
        while isinstance(root, ast.Attribute | ast.Subscript):
            root = root.value
        if isinstance(root, ast.Name) and root.id in aliases:
            yield f"rewrites the module {aliases[root.id]}, which the tests rely on"
    elif isinstance(node, ast.Name) and node.id in NAMES:
        yield f"`{node.id}` {NAMES[node.id]}"
    elif isinstance(node, ast.Call):
        yield from _call_reason(node, aliases)
        yield from _mutation_reason(node, aliases)
        for read in _attributes_named(node):
            yield from _reasons(read, aliases)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
        if "/proc" in text:
            yield f"a string {_PROC}"
        if text in _CLASS_NAMES:  # `type("E", (ValueError,), {"__module__": "json"})`
            yield f"naming `{text}` passes one class off as another"


# Names a class goes by, which the verifier and `except` read: rewritten, they pass off a
# class of the code's own as another (`JSONDecodeError.__module__ = "json.decoder"`).
_CLASS_NAMES = ("__module__", "__qualname__", "__name__")


def _rewrite_reason(node: ast.Attribute, aliases: dict[str, str]) -> Iterator[str]:
    """Why assigning to (or deleting) `node` is refused: a class's names, or anything of
    an imported module, which other code (the tests, the verifier) relies on."""
    if node.attr in _CLASS_NAMES:
        yield f"setting `.{node.attr}` passes one class off as another"
        return
    root: ast.expr = node
    while isinstance(root, ast.Attribute):
        root = root.value
    if isinstance(root, ast.Name) and root.id in aliases:
        yield f"rewrites the module {aliases[root.id]}, which the tests rely on"


def _module_reason(name: str) -> Iterator[str]:
    top = name.partition(".")[0]
    if top in MODULES:
        yield f"imports {top}, which {MODULES[top]}"
    if runs_on_import(name):  # wherever the module is imported: a user's program too
        yield f"imports {name}, which runs a program when it is imported"


# A module's private names (`re._cache`, `locale._override_localeconv`): its state, which
# other code of the process (the tests' expected values) reads.
_PRIVATE = "reaches the module's private state, which the tests' code reads too"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _attribute_reason(node: ast.Attribute, aliases: dict[str, str]) -> Iterator[str]:
    owner = aliases.get(node.value.id) if isinstance(node.value, ast.Name) else None
    table = MODULE_ATTRIBUTES.get(owner or "", {})
    if node.attr in table:
        yield f"`{owner}.{node.attr}` {table[node.attr]}"
    elif owner is not None and _private(node.attr):
        yield f"`{owner}.{node.attr}` {_PRIVATE}"
    elif node.attr in ATTRIBUTES:
        yield f"`.{node.attr}` {ATTRIBUTES[node.attr]}"
    elif node.attr in ("__dict__", "__class__") and _is_dunder_chain(node.value):
        yield f"`.{node.attr}` on an object's internals reaches classes of the test process"
    elif node.attr == "__dict__" and owner is not None:
        yield f"`{owner}.__dict__` reads or rewrites the module's globals"
    elif node.attr == "__class__" and isinstance(node.ctx, ast.Store):
        yield "assigning `__class__` disguises a value's type"


def _is_dunder_chain(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr.startswith("__")


def _call_reason(node: ast.Call, aliases: dict[str, str]) -> Iterator[str]:
    """`vars(sys)` reads a module's globals, `setattr(json, ...)` rewrites a module,
    `setattr(cls, "__module__", ...)` a class's names; `vars(person)` of a record is fine."""
    if not (isinstance(node.func, ast.Name) and node.args):
        return
    argument = node.args[0]
    if node.func.id == "vars" and isinstance(argument, ast.Name) and argument.id in aliases:
        yield f"`vars({argument.id})` reads or rewrites a module's globals"
    if node.func.id in ("setattr", "delattr"):
        name = node.args[1] if len(node.args) > 1 else None
        if isinstance(name, ast.Constant) and name.value in _CLASS_NAMES:
            yield f"setting `.{name.value}` passes one class off as another"
        elif isinstance(name, ast.Constant) and name.value == "__class__":
            yield "assigning `__class__` disguises a value's type"
        elif isinstance(argument, ast.Name) and argument.id in aliases:
            yield f"rewrites the module {aliases[argument.id]}, which the tests rely on"


# Calls that read or write the attribute a string names: `getattr(os, "getcwd")` is
# `os.getcwd`, as is `object.__getattribute__(os, "getcwd")`.
_BY_NAME = ("getattr", "hasattr", "setattr", "delattr")
_BY_NAME_METHODS = ("__getattribute__", "__getattr__", "__setattr__", "__delattr__")
_WRITES = ("setattr", "delattr", "__setattr__", "__delattr__")
_GETTERS = ("attrgetter", "methodcaller")  # operator's: the object comes later
_UNKNOWN = ast.Name(id="", ctx=ast.Load())  # an object whose module is not known


def _attributes_named(node: ast.Call) -> Iterator[ast.Attribute]:
    """The attributes a call reads or writes by a name spelled as a string constant, as
    the `.name` they amount to: the refusals read names, and a string is one as much as
    an identifier is (`getattr(os, "getcwd")`, `operator.attrgetter("f_back")`)."""
    func, args = node.func, node.args
    called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    texts = [
        (i, a.value)
        for i, a in enumerate(args)
        if isinstance(a, ast.Constant) and isinstance(a.value, str)
    ]
    ctx = ast.Store() if called in _WRITES else ast.Load()
    first = args[0] if args else _UNKNOWN  # a call of none is code's own (a TypeError)
    if isinstance(func, ast.Name) and called in _BY_NAME:
        owners = {1: first}  # getattr(owner, "name")
    elif isinstance(func, ast.Attribute) and called in _BY_NAME_METHODS:
        owners = {0: func.value, 1: first}  # owner.__getattribute__("name"), or type's
    elif called in _GETTERS:
        owners = {}
    else:
        return
    for i, text in texts:
        for part in text.split(".") if called in _GETTERS else [text]:
            yield ast.Attribute(value=owners.get(i, _UNKNOWN), attr=part, ctx=ctx)


# The methods that change a list, dict or set in place.
_MUTATORS = frozenset(
    {"append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "update",
     "setdefault", "popitem", "add", "discard", "difference_update", "intersection_update",
     "symmetric_difference_update", "__setitem__", "__delitem__", "__iadd__", "__ior__"}
)  # fmt: skip


def _mutation_reason(node: ast.Call, aliases: dict[str, str]) -> Iterator[str]:
    """`keyword.kwlist.append(...)`, `from keyword import kwlist; kwlist.append(...)`: a
    table of an imported module changed in place, which the verifier holds by identity
    only, and another spec's tests read in the same pytest session."""
    if not (isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS):
        return
    receiver, depth = node.func.value, 0
    while isinstance(receiver, ast.Attribute | ast.Subscript):
        receiver, depth = receiver.value, depth + 1
    if not isinstance(receiver, ast.Name) or receiver.id not in aliases:
        return
    imported = aliases[receiver.id]
    if depth or "." in imported:  # a module's attribute, not the module itself
        yield f"changes a table of the module {imported.partition('.')[0]} in place"
