"""The generated module's own command line: `python -m NAME FUNC ARGS...` and `--serve`.

The code comes from one template (`templates/module_main.py.j2`), so every module carries
the same tested block; only the list of callable functions differs. It is an
`if __name__ == "__main__":` block: importing the module runs none of it, and it needs
nothing beyond the standard library.
"""

from __future__ import annotations

import json

from marshalike.codegen.emit import declared_annotations, render
from marshalike.language.naming import identifier
from marshalike.language.spec import Module

__all__ = ["append_main", "main_block"]

LINE_LIMIT = 100  # the generated module's, as ruff formats it


def main_block(module: Module) -> str:
    """The `if __name__ == "__main__":` block for `module`; "" when it has no functions.

    Only the spec's own functions can be called: helpers the model wrote and functions
    imported from `use`d specs stay out of reach.
    """
    first = {identifier(f.name): f for f in reversed(module.funcs)}
    functions = list(dict.fromkeys(identifier(f.name) for f in module.funcs))
    if not functions:
        return ""
    declared = [
        _declared_entry(name, declared_annotations(module, first[name])) for name in functions
    ]
    return render("module_main.py.j2", functions=functions, declared=declared)


def _declared_entry(name: str, annotations: tuple[str | None, ...]) -> str:
    """`"name": ("list[Person]", None),` as ruff formats it: one line where it fits in 100
    columns, else one annotation a line."""
    items = ["None" if a is None else json.dumps(a) for a in annotations]
    inline = f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    line = f"        {json.dumps(name)}: {inline},"
    if len(line) <= LINE_LIMIT:
        return line
    inner = "".join(f"            {item},\n" for item in items)
    return f"        {json.dumps(name)}: (\n{inner}        ),"


def append_main(source: str, module: Module) -> str:
    """`source` (a generated module) with the main block after two blank lines."""
    block = main_block(module)
    if not block:
        return source
    return source.rstrip("\n") + "\n\n\n" + block
