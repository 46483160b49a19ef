"""The generated module's own command line: `python -m NAME FUNC ARGS...` and `--serve`.

The code lives once per output folder, in the support module `_marshalike_main.py`
(`support_source()`, the same text for every module and folder); each module ends with a
few lines that hand it its globals and the parameter types its spec declares:

    if __name__ == "__main__":
        import _marshalike_main

        _marshalike_main.main(globals(), {"add": ("int", "int")})

Importing the module runs none of it, and it needs nothing beyond the standard library.
The block is laid out as `ruff format` lays it out with its default settings.
"""

from __future__ import annotations

import functools
import importlib.resources
import json

from marshalike.codegen.emit import declared_annotations
from marshalike.codegen.stamp import stamped
from marshalike.language.naming import identifier
from marshalike.language.spec import Module

__all__ = [
    "SUPPORT_FILE",
    "SUPPORT_MODULE",
    "append_main",
    "main_block",
    "name_clash",
    "support_source",
]

SUPPORT_MODULE = "_marshalike_main"
SUPPORT_FILE = f"{SUPPORT_MODULE}.py"
LINE_LIMIT = 88  # ruff format's default


@functools.cache
def support_source() -> str:
    """The text of the support module the main blocks import."""
    resource = importlib.resources.files("marshalike.codegen") / "templates"
    return (resource / f"{SUPPORT_FILE}.txt").read_text(encoding="utf-8")


def name_clash(module_name: str) -> str | None:
    """Why a spec cannot compile to `module_name`: the support module has that name, or
    `import NAME` would not find the generated module under a dotted name (read as a
    package). (A name the sandbox has imported before it: `channel.preloaded`.)"""
    if module_name == SUPPORT_MODULE:
        return f"{SUPPORT_FILE} is the support module of the generated modules: rename the spec"
    if "." in module_name:
        return (
            f"`import {module_name}` reads {module_name} as a package and a module in it, "
            f"not the generated {module_name}.py: rename the spec without the dot"
        )
    return None


def main_block(module: Module) -> str:
    """The `if __name__ == "__main__":` block for `module`; "" when it has no functions.

    Only the spec's own functions can be called: helpers the model wrote and functions
    imported from `use`d specs stay out of reach.
    """
    first = {identifier(f.name): f for f in reversed(module.funcs)}
    functions = list(dict.fromkeys(identifier(f.name) for f in module.funcs))
    if not functions:
        return ""
    declared = {name: declared_annotations(module, first[name]) for name in functions}
    head = f'if __name__ == "__main__":\n    import {SUPPORT_MODULE}\n\n'
    inline = ", ".join(f"{json.dumps(name)}: {_tuple(types)}" for name, types in declared.items())
    call = f"    {SUPPORT_MODULE}.main(globals(), {{{inline}}})\n"
    if len(call.rstrip("\n")) <= LINE_LIMIT:
        return head + call
    entries = "".join(_entry(name, types) for name, types in declared.items())
    call = (
        f"    {SUPPORT_MODULE}.main(\n        globals(),\n        {{\n{entries}        }},\n    )\n"
    )
    return head + call


def _items(annotations: tuple[str | None, ...]) -> list[str]:
    return ["None" if a is None else json.dumps(a) for a in annotations]


def _tuple(annotations: tuple[str | None, ...]) -> str:
    items = _items(annotations)
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _entry(name: str, annotations: tuple[str | None, ...]) -> str:
    """`"name": ("list[Person]", None),` as ruff formats it at 12 columns in: one line
    where it fits, else one annotation a line."""
    line = f"            {json.dumps(name)}: {_tuple(annotations)},\n"
    if len(line.rstrip("\n")) <= LINE_LIMIT:
        return line
    inner = "".join(f"                {item},\n" for item in _items(annotations))
    return f"            {json.dumps(name)}: (\n{inner}            ),\n"


def append_main(source: str, module: Module) -> str:
    """`source` (a generated module) with the main block after two blank lines, and the
    output hash of that text."""
    block = main_block(module)
    if not block:
        return source
    return stamped(source.rstrip("\n") + "\n\n\n" + block)
