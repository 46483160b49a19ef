"""load_spec / spec_paths / load_paths: reading specs, CSV-backed types, `# use`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from marshalike.cli.main import cli
from marshalike.errors import SpecError
from marshalike.language.diagnostics import Diagnostic, render_all
from marshalike.language.load import (
    MAX_SAMPLE_ROWS,
    LoadResult,
    load_paths,
    load_spec,
    load_text,
    spec_paths,
)

FUNC = "# func count(items: list of Item): int\n\nHow many items.\n\n* count([]) = 0\n"


def findings(result: LoadResult) -> tuple[Diagnostic, ...]:
    """The diagnostics without M026: these small specs have too few examples on purpose."""
    return tuple(d for d in result.diagnostics if d.code != "M026")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        load_spec(tmp_path / "nope.mrsh")
    assert str(raised.value) == f"{tmp_path / 'nope.mrsh'}: no such file"


def test_a_directory_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        load_spec(tmp_path)
    assert str(raised.value) == f"{tmp_path}: is a directory, not a .mrsh file"


def test_text_that_is_not_utf8_is_a_located_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "latin.mrsh"
    path.write_bytes(b"# func f(): int\n\nCaf\xe9.\n")
    result = load_spec(path)
    assert result.module is None
    assert result.has_errors
    assert render_all(result.diagnostics, {result.path: result.source}) == (
        f"{path}:3:4: error[M030]: spec is not UTF-8 text (byte 0xe9)\n"
        "    Caf\ufffd.\n"
        "       ^\n"
        "  hint: save the file as UTF-8"
    )


def test_a_syntax_error_leaves_no_module_and_skips_the_checks(tmp_path: Path) -> None:
    result = load_spec(write(tmp_path, "bad.mrsh", "# func f(x: int: int\n\n* g(1) = 1\n"))
    assert result.module is None
    assert [d.code for d in result.diagnostics] == ["M001"]


def test_csv_backed_type_gets_columns_and_rows(tmp_path: Path) -> None:
    write(tmp_path, "items.csv", '\ufeffid, name\n1,\tpen\n\n2, "book, large"\n')
    result = load_spec(write(tmp_path, "s.mrsh", "# type Item items.csv\n\n" + FUNC))
    assert findings(result) == ()
    assert result.module is not None
    (item,) = result.module.types
    assert item.source == "items.csv"
    assert item.columns == ("id", "name")
    assert item.rows == (("1", "pen"), ("2", "book, large"))


def test_csv_path_is_relative_to_the_spec_not_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "specs/data/items.csv", "id\n1\n")
    spec = write(tmp_path, "specs/s.mrsh", "# type Item data/items.csv\n\n" + FUNC)
    monkeypatch.chdir(tmp_path)
    result = load_spec(spec.relative_to(tmp_path))
    assert result.module is not None
    assert result.module.types[0].columns == ("id",)


def test_tab_separated_csv_file(tmp_path: Path) -> None:
    write(tmp_path, "items.tsv.csv", "id\tname\n1\tpen, blue\n")
    result = load_spec(write(tmp_path, "s.mrsh", "# type Item items.tsv.csv\n\n" + FUNC))
    assert result.module is not None
    assert result.module.types[0].rows == (("1", "pen, blue"),)


def test_a_large_csv_file_keeps_sample_rows_but_checks_them_all(tmp_path: Path) -> None:
    lines = ["id, name"] + [f"{n}, x" for n in range(200)] + ["200"]
    write(tmp_path, "items.csv", "\n".join(lines) + "\n")
    result = load_spec(write(tmp_path, "s.mrsh", "# type Item items.csv\n\n" + FUNC))
    assert result.module is not None
    assert len(result.module.types[0].rows) == MAX_SAMPLE_ROWS
    assert [d.message for d in findings(result)] == [
        "items.csv:202: row has 1 field but the header has 2 columns (id, name)"
    ]


def test_a_duplicate_column_of_a_csv_file_points_at_the_heading(tmp_path: Path) -> None:
    write(tmp_path, "items.csv", "id, name, id\n1, pen, 2\n")
    result = load_spec(write(tmp_path, "s.mrsh", "# type Item items.csv\n\n" + FUNC))
    assert render_all(findings(result), {result.path: result.source}) == (
        f"{tmp_path / 's.mrsh'}:1:8: error[M017]: type 'Item' has the column 'id' twice "
        "(header of items.csv)\n"
        "    # type Item items.csv\n"
        "           ^^^^"
    )


def test_csv_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "items.csv").write_bytes(b"name\ncaf\xe9\n")
    result = load_spec(write(tmp_path, "s.mrsh", "# type Item items.csv\n\n" + FUNC))
    assert [(d.code, d.message) for d in findings(result)] == [
        ("M031", "CSV file 'items.csv' of type 'Item' is not UTF-8 text")
    ]


HELPER = "# func area(w: float, h: float): float\n\nw times h.\n\n* area(2, 3) = 6\n"


def test_functions_of_a_used_spec_are_callable(tmp_path: Path) -> None:
    write(tmp_path, "lib/geometry.mrsh", HELPER)
    text = "# use lib/geometry.mrsh\n\n# func twice(w: float): float\n\nTwice.\n\n"
    text += "* twice(1) = 2\n* area(1, 2) = 2\n"
    result = load_spec(write(tmp_path, "main.mrsh", text))
    assert findings(result) == ()
    assert result.module is not None
    assert [u.path for u in result.module.uses] == ["lib/geometry.mrsh"]


def test_a_use_chain_that_returns_to_the_spec_is_a_cycle(tmp_path: Path) -> None:
    body = "\n# func {0}(): int\n\nOne.\n\n* {0}() = 1\n"
    write(tmp_path, "a.mrsh", "# use sub/b.mrsh\n" + body.format("a"))
    write(tmp_path, "sub/b.mrsh", "# use c.mrsh\n" + body.format("b"))
    write(tmp_path, "sub/c.mrsh", "# use ../a.mrsh\n" + body.format("c"))
    result = load_spec(tmp_path / "a.mrsh")
    assert [d.message for d in findings(result)] == [
        "circular use: a.mrsh -> sub/b.mrsh -> sub/c.mrsh -> a.mrsh"
    ]


def test_a_cycle_among_used_specs_is_reported_where_it_closes(tmp_path: Path) -> None:
    body = "\n# func {0}(): int\n\nOne.\n\n* {0}() = 1\n"
    write(tmp_path, "b.mrsh", "# use c.mrsh\n" + body.format("b"))
    write(tmp_path, "c.mrsh", "# use b.mrsh\n" + body.format("c"))
    a = write(tmp_path, "a.mrsh", "# use b.mrsh\n" + body.format("a"))
    assert findings(load_spec(a)) == ()
    assert [d.message for d in findings(load_spec(tmp_path / "b.mrsh"))] == [
        "circular use: b.mrsh -> c.mrsh -> b.mrsh"
    ]


def test_spec_paths_expands_folders_sorted_without_repeats(tmp_path: Path) -> None:
    for name in ["b.mrsh", "a/z.mrsh", "a/y.mrsh", "notes.md"]:
        write(tmp_path, name, "")
    found = spec_paths([tmp_path / "b.mrsh", tmp_path])
    assert found == [tmp_path / "b.mrsh", tmp_path / "a/y.mrsh", tmp_path / "a/z.mrsh"]


def test_spec_paths_rejects_a_missing_path_and_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        spec_paths([tmp_path / "gone"])
    assert str(raised.value) == f"{tmp_path / 'gone'}: no such file or directory"
    with pytest.raises(SpecError) as raised:
        spec_paths([tmp_path])
    assert str(raised.value) == f"no .mrsh files under {tmp_path}"


def test_load_paths_loads_each_spec(tmp_path: Path) -> None:
    write(tmp_path, "one.mrsh", HELPER)
    write(tmp_path, "two.mrsh", HELPER.replace("area", "size"))
    results = load_paths([tmp_path])
    assert [Path(r.path).name for r in results] == ["one.mrsh", "two.mrsh"]
    assert [r.module.funcs[0].name for r in results if r.module] == ["area", "size"]


# --- what counts as a spec file --------------------------------------------------------------

SPEC = "# func f(x: int): int\n\nx.\n\n* f(1) = 1\n"


def test_a_fifo_is_refused_at_once_never_opened_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mrsh"
    os.mkfifo(fifo)
    with pytest.raises(SpecError) as raised:
        spec_paths([fifo])
    assert str(raised.value) == f"{fifo}: not a regular file (a FIFO); give a .mrsh file"
    # load_spec opens without blocking and checks what it opened
    with pytest.raises(SpecError) as raised:
        load_spec(fifo)
    assert str(raised.value) == f"{fifo}: cannot read: not a regular file (a FIFO)"


def test_a_device_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        spec_paths(["/dev/zero"])
    assert (
        str(raised.value) == "/dev/zero: not a regular file (a character device); give a .mrsh file"
    )


def test_a_folder_walk_takes_only_regular_mrsh_files(tmp_path: Path) -> None:
    write(tmp_path, "a.mrsh", SPEC)
    write(tmp_path, "b.txt", SPEC)
    os.mkfifo(tmp_path / "c.mrsh")
    assert spec_paths([tmp_path]) == [tmp_path / "a.mrsh"]


def test_a_fifo_as_csv_file_or_used_spec_is_a_diagnostic(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "rows.csv")
    os.mkfifo(tmp_path / "other.mrsh")
    text = "# use other.mrsh\n\n# type T rows.csv\n\n" + SPEC
    result = load_spec(write(tmp_path, "s.mrsh", text))
    assert [(d.code, d.message) for d in findings(result)] == [
        ("M034", "cannot read used spec 'other.mrsh'"),
        ("M031", "cannot read CSV file 'rows.csv' of type 'T': not a regular file (a FIFO)"),
    ]


def test_a_file_named_otherwise_is_a_spec_when_it_reads_as_one(tmp_path: Path) -> None:
    result = load_spec(write(tmp_path, "spec.txt", SPEC))
    assert result.module is not None and result.module.funcs[0].name == "f"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("root:x:0:0:root:/root:/bin/bash\n", "it declares no `# func` or `# type`"),
        ("# func f(\n", "it has syntax errors"),
        ("# func f(x: int): int\n\nx.\n\n* g(1) = 1\n", "it has errors"),
    ],
)
def test_a_file_named_otherwise_that_is_no_spec_is_refused(
    tmp_path: Path, text: str, why: str
) -> None:
    path = write(tmp_path, "passwd", text)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value) == (
        f"{path}: not a .mrsh file, and {why}; name the spec with the .mrsh suffix"
    )


def test_a_mrsh_file_with_errors_is_diagnosed_not_refused(tmp_path: Path) -> None:
    result = load_spec(write(tmp_path, "s.mrsh", "# func f(\n"))
    assert result.module is None and result.has_errors


USED = "# func fg(x: int): int\n\nDouble it.\n\n* fg(1) = 2\n* fg(2) = 4\n{}"
USER = "# use g.mrsh\n\n# func fh(x: int): int\n\nQuadruple.\n\n* fh(1) = 4\n* fh(2) = 8\n"


@pytest.mark.parametrize(
    ("extra", "first"),
    [
        ("* fgg(0) = 1\n", "the first at line 7: example calls unknown function 'fgg' [M012]"),
        (
            "# use missing.mrsh\n",
            "the first at line 7: cannot find used spec 'missing.mrsh' [M034]",
        ),
    ],
)
def test_a_used_spec_with_errors_past_its_syntax_is_m036_in_parse_and_compile(
    tmp_path: Path, extra: str, first: str
) -> None:
    """Not only a used spec's syntax errors make its user's `# use` an error: the checker's
    and loading's do too, with the first of them in the message, at any depth."""
    write(tmp_path, "g.mrsh", USED.format(extra))
    user = write(tmp_path, "h.mrsh", USER)
    top = write(tmp_path, "top.mrsh", USER.replace("g.mrsh", "h.mrsh").replace("fh", "ft"))
    message = f"used spec 'g.mrsh' has 1 error, {first}"
    assert [(d.code, d.message) for d in findings(load_spec(user))] == [("M036", message)]
    deeper = [(d.code, d.message) for d in findings(load_spec(top))]
    said = f"used spec 'h.mrsh' has 1 error, the first at line 1: {message} [M036]"
    assert deeper == [("M036", said)]
    parsed = CliRunner().invoke(cli, ["parse", str(user)])
    assert parsed.exit_code == 2, parsed.output
    assert f"h.mrsh:1:1: error[M036]: {message}\n" in parsed.stderr
    argv = ["compile", str(user), "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
            "--model", "m"]  # fmt: skip
    compiled = CliRunner().invoke(cli, argv)
    assert compiled.exit_code == 2, compiled.output
    assert f"h.mrsh:1:1: error[M036]: {message}\n" in compiled.stderr
    assert "h.mrsh: not compiled (errors in the spec)" in compiled.stdout


def test_a_text_loads_as_its_spec_would_with_that_text_its_file_unread(tmp_path: Path) -> None:
    """`load_text` checks a text where its spec is, reading the specs it uses (and their
    errors, M036) and its CSV files from disk: what the spec would say once written."""
    write(tmp_path, "lib/geometry.mrsh", HELPER)
    write(tmp_path, "g.mrsh", USED.format("* fgg(0) = 1\n"))
    write(tmp_path, "items.csv", "name,price\npen,2\n")
    spec = write(tmp_path, "main.mrsh", "# func f(): int\n\nOne.\n\n* f() = 1\n")
    text = "# use lib/geometry.mrsh\n# use g.mrsh\n\n# type Item items.csv\n\n"
    text += "# func twice(w: float): float\n\nTwice.\n\n* twice(area(1, 2)) = 4\n"
    result = load_text(spec, text)
    assert result.source == text
    assert result.module is not None and result.module.types[0].columns == ("name", "price")
    assert [(d.code, d.message) for d in findings(result)] == [
        (
            "M036",
            "used spec 'g.mrsh' has 1 error, the first at line 7: example calls unknown "
            "function 'fgg' [M012]",
        )
    ]
    spec.write_text(text, encoding="utf-8")
    assert load_text(spec, text).diagnostics == load_spec(spec).diagnostics
    assert load_text(tmp_path / "nowhere.mrsh", "# func f(\n").module is None
