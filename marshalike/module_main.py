"""The generated module's own command line: `python -m NAME FUNC ARGS...` and `--serve`.

The code comes from one template (`templates/module_main.py.j2`), so every module carries
the same tested block; only the list of callable functions differs. It is an
`if __name__ == "__main__":` block: importing the module runs none of it, and it needs
nothing beyond the standard library.
"""

from __future__ import annotations

from marshalike.emit import render
from marshalike.naming import identifier
from marshalike.spec import Module

__all__ = ["append_main", "main_block"]


def main_block(module: Module) -> str:
    """The `if __name__ == "__main__":` block for `module`; "" when it has no functions.

    Only the spec's own functions can be called: helpers the model wrote and functions
    imported from `use`d specs stay out of reach.
    """
    functions = list(dict.fromkeys(identifier(f.name) for f in module.funcs))
    if not functions:
        return ""
    return render("module_main.py.j2", functions=functions)


def append_main(source: str, module: Module) -> str:
    """`source` (a generated module) with the main block after two blank lines."""
    block = main_block(module)
    if not block:
        return source
    return source.rstrip("\n") + "\n\n\n" + block
