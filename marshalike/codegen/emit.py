"""Deterministic emit: everything in the generated files that needs no model.

From the AST: a dataclass per declared type, a stub per function (signature, docstring
with doctests, `raise NotImplementedError`), the whole module around the model's function
bodies, and the pytest file (`testfile`). Same input, same bytes: generated files are
committed and golden-tested, so nothing here depends on dict order, time or environment.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jinja2

from marshalike.codegen.docstrings import docstring_body, docstring_literal
from marshalike.codegen.imports import Imported, ImportSet, split_imports
from marshalike.codegen.lint import suppressed
from marshalike.codegen.testfile import file_parts, named_tests, one_line
from marshalike.language.naming import compiles, field_names, identifier, param_name, parse_or_none
from marshalike.language.spec import Example, Func, Module, Param, TypeDef
from marshalike.language.typemap import ANY, annotation, infer_column_type, infer_literal_type

__all__ = ["module_source", "spec_hash", "stub_source", "test_source", "types_source"]

_LINE_LIMIT = 88  # ruff format's default: generated files are laid out as it would
_JSONISH = {"true": "True", "false": "False", "null": "None"}
# Names the generated module binds itself; a derived parameter name must not shadow them.
_RESERVED = frozenset({"annotations", "dataclass", "Any", "datetime"})


@functools.cache
def environment(package: str = "marshalike.codegen") -> jinja2.Environment:
    """The Jinja environment for a package's `templates/` folder (prompts use it too)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(template: str, **variables: object) -> str:
    return environment().get_template(template).render(**variables)


def spec_hash(text: str) -> str:
    """The content hash written into generated files; line endings do not count."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    return "sha256:" + hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def header_name(spec_name: str) -> str:
    """A spec name safe inside a one-line comment."""
    return one_line(spec_name)


def types_source(module: Module) -> str:
    """One `@dataclass` per declared type, in declaration order; "" when there are none."""
    blocks = [_dataclass(t) for t in module.types]
    return "\n\n\n".join(blocks) + "\n" if blocks else ""


def _dataclass(typedef: TypeDef) -> str:
    fields = field_names(typedef.columns)
    lines = ["@dataclass", f"class {identifier(typedef.name)}:"]
    for index, name in enumerate(fields):
        cells = [row[index] if index < len(row) else "" for row in typedef.rows]
        lines.append(f"    {name}: {infer_column_type(cells)}")
    if not fields:
        lines.append("    pass")
    return "\n".join(lines)


@dataclass(frozen=True)
class _Arg:
    name: str
    annotation: str | None
    default: str | None

    def source(self) -> str:
        text = f"{self.name}: {self.annotation}" if self.annotation else self.name
        if self.default is None:
            return text
        return f"{text} = {self.default}" if self.annotation else f"{text}={self.default}"


def stub_source(module: Module, func: Func) -> str:
    """`def name(params) -> ret:` with a docstring and `raise NotImplementedError`."""
    lines = [_def_line(module, func)]
    body = docstring_body(func)
    if body:
        lines.append(docstring_literal(body))
    lines.append("    raise NotImplementedError")
    return "\n".join(lines) + "\n"


def _def_line(module: Module, func: Func) -> str:
    args = [a.source() for a in _args(module, func)]
    returns = _return_annotation(module, func)
    name = identifier(func.name)
    line = f"def {name}({', '.join(args)}) -> {returns}:"
    if len(line) <= _LINE_LIMIT:
        return line
    inner = "".join(f"    {a},\n" for a in args)
    return f"def {name}(\n{inner}) -> {returns}:"


def _known(module: Module) -> set[str]:
    return {t.name for t in module.types}


def _args(module: Module, func: Func) -> list[_Arg]:
    taken = set(_RESERVED)
    taken |= {identifier(f.name) for f in module.funcs} | {identifier(t.name) for t in module.types}
    taken |= {identifier(p.name) for p in func.params if p.name}
    optional_from = _fewest_args(func)
    args: list[_Arg] = []
    for index, param in enumerate(func.params, start=1):
        name = identifier(param.name) if param.name else param_name(param.type, index, taken)
        taken.add(name)
        ann = _param_annotation(module, func, param, index - 1)
        default = _default(param)
        if default is None and (index > optional_from or any(a.default for a in args)):
            # Examples call it without this argument (or an earlier one has a default):
            # optional keeps the stub callable the way the spec calls it.
            ann, default = _or_none(ann), "None"
        args.append(_Arg(name, ann, default))
    return args


def declared_annotations(module: Module, func: Func) -> tuple[str | None, ...]:
    """The annotation of each parameter as the spec declares it (what the stub says), in
    order: the module's `--serve` shapes JSON arguments by these, not by the annotations
    of whatever `def` was verified."""
    return tuple(arg.annotation for arg in _args(module, func))


def _return_annotation(module: Module, func: Func) -> str:
    if not func.returns:
        return "None"
    found = annotation(func.returns, _known(module))
    if found != ANY:
        return found
    return infer_literal_type([e.expected or "" for e in _returning(func)])


def _param_annotation(module: Module, func: Func, param: Param, position: int) -> str | None:
    if not param.type.strip():
        return None
    found = annotation(param.type, _known(module))
    if found != ANY:
        return found
    passed = [_argument(e.call or "", position) for e in _returning(func)]
    return infer_literal_type([p for p in passed if p is not None] if all(passed) else [])


def _returning(func: Func) -> list[Example]:
    """The examples that call `func` and say what it returns."""
    return [e for e in func.examples if e.outcome == "returns" and e.func == func.name]


def _argument(call: str, position: int) -> str | None:
    parsed = parse_or_none(call.strip())
    tree = parsed.body if isinstance(parsed, ast.Expression) else None
    if not isinstance(tree, ast.Call) or position >= len(tree.args):
        return None
    if any(isinstance(a, ast.Starred) for a in tree.args):
        return None
    return ast.unparse(tree.args[position])


def _fewest_args(func: Func) -> int:
    """The fewest positional arguments a returning example passes to `func`."""
    counts = [e.arg_count for e in _returning(func) if e.arg_count is not None]
    return min(counts, default=len(func.params))


def _default(param: Param) -> str | None:
    if param.default is None:
        return None
    text = _JSONISH.get(param.default.strip(), param.default.strip())
    tree = parse_or_none(text)
    # `0,` parses alone but not between other parameters; unparse adds what it needs.
    candidates = [text, ast.unparse(tree.body)] if isinstance(tree, ast.Expression) else []
    usable = [c for c in candidates if compiles(f"def _(x={c}, y=None): pass")]
    # A default that is not Python is reported by the checker; the stub stays valid.
    return usable[0] if usable else "None"


def _or_none(ann: str | None) -> str | None:
    if ann is None or ann == ANY or ann == "None" or ann.endswith("| None"):
        return ann
    return f"{ann} | None"


def verbatim(code: str, rules: Sequence[str] = ()) -> str:
    """The model's code as it wrote it, kept out of `ruff format`'s reach: the lock holds
    it byte for byte, and `marshalike check` compares the module with what it makes.
    `rules` are the ruff rules it breaks (`codegen.lint`), suppressed for its lines only."""
    code = code.strip("\n")
    return suppressed(f"# fmt: off\n{code}\n# fmt: on", rules) if code else code


def module_source(
    module: Module,
    code: Mapping[str, str],
    *,
    spec_name: str,
    spec_hash: str,
    uses: Mapping[str, Sequence[str]] | None = None,
    lint: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The generated module: header, imports, `__all__`, dataclasses, then each function.

    A function is `code[name]` (its verified definition and any helpers) when present,
    else its stub. Top-level imports of the code are hoisted and merged; one that nothing
    in the module uses is left out. `uses` maps the module of each `# use`d spec to the
    functions imported from it; `lint`, a function to the ruff rules its code breaks.
    """
    imports = ImportSet()
    imports.add(Imported("__future__", "annotations"))
    for used_module, names in sorted((uses or {}).items()):
        imports.add(*(Imported(used_module, name) for name in names))
    hoisted = ImportSet()
    blocks = [_dataclass(t) for t in module.types]
    for func in module.funcs:
        if func.name in code:
            found, body = split_imports(code[func.name])
            hoisted.add(*found)
            blocks.append(verbatim(body, (lint or {}).get(func.name, ())))
        else:
            blocks.append(stub_source(module, func).rstrip("\n"))
    body = "\n\n".join(blocks)
    used = _names_used(body)
    hoisted.keep_only(used)
    imports.add(*hoisted.items)
    _add_own_imports(imports, module, used)
    return render(
        "module.py.j2",
        spec_name=header_name(spec_name),
        spec_hash=spec_hash,
        import_groups=imports.groups(local=tuple(uses or ())),
        exports=_exports(module),
        blocks=[b for b in blocks if b],  # code that was only imports leaves nothing
    )


def test_blocks(module: Module, *, spec_name: str) -> dict[str, str]:
    """Each test as `test_source` writes it with no rules suppressed, by its name."""
    return named_tests(module, spec_name=header_name(spec_name))


def model_blocks(module: Module, code: Mapping[str, str]) -> dict[str, str]:
    """Each function's code as `module_source` writes it with no rules suppressed (the
    text `codegen.lint` looks for in the module)."""
    blocks = {
        f.name: verbatim(split_imports(code[f.name])[1]) for f in module.funcs if f.name in code
    }
    return {name: block for name, block in blocks.items() if block}


def test_source(
    module: Module,
    *,
    module_name: str,
    spec_name: str,
    spec_hash: str,
    only: str | None = None,
    lint: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The pytest file: test_{func}_{n} per checkable example (of `only`, when given).
    `lint` maps a test to the ruff rules its example's text breaks (`codegen.lint`)."""
    import_groups, blocks = file_parts(
        module, module_name=module_name, spec_name=header_name(spec_name), only=only, lint=lint
    )
    return render(
        "test_module.py.j2",
        spec_name=header_name(spec_name),
        spec_hash=spec_hash,
        import_groups=import_groups,
        blocks=blocks,
    )


# Its name starts with "test": tell pytest it is not one, should a test module import it.
test_source.__test__ = False  # type: ignore[attr-defined]  # mypy types no function attributes


def _add_own_imports(imports: ImportSet, module: Module, used: set[str]) -> None:
    if module.types and not imports.binds("dataclass"):
        imports.add(Imported("dataclasses", "dataclass"))
    if "Any" in used and not imports.binds("Any"):
        imports.add(Imported("typing", "Any"))
    if "datetime" in used and not imports.binds("datetime"):
        imports.add(Imported("datetime"))


def _names_used(source: str) -> set[str]:
    tree = parse_or_none(source, "exec")
    if tree is None:
        # Unparseable model code: fall back to words, which can only add an unused import.
        return set(re.findall(r"[A-Za-z_]\w*", source))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _exports(module: Module) -> str:
    names = [identifier(t.name) for t in module.types] + [identifier(f.name) for f in module.funcs]
    unique = sorted(dict.fromkeys(names), key=_export_order)
    line = f"__all__ = [{', '.join(_quoted(n) for n in unique)}]"
    if len(line) <= _LINE_LIMIT:
        return line
    return "__all__ = [\n" + "".join(f"    {_quoted(n)},\n" for n in unique) + "]"


def _export_order(name: str) -> tuple[int, list[tuple[int, str]]]:
    """`__all__` in the order ruff's RUF022 wants: CONSTANT names, then CamelCase, then
    the rest, each in natural order (`f2` before `f10`)."""
    group = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
    parts = re.split(r"(\d+)", name)
    return group, [(int(part), "") if part.isdigit() else (-1, part) for part in parts]


def _quoted(name: str) -> str:
    return '"' + name + '"'
