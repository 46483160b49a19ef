"""SpecGraph: each spec read once, what it uses and what uses it, the compile order, and
what a change to a file means."""

from __future__ import annotations

from pathlib import Path

import pytest

from marshalike.language import graph as graph_module
from marshalike.language.diagnostics import render
from marshalike.language.files import SpecText, read_spec
from marshalike.language.graph import Changes, SpecGraph
from marshalike.language.load import load_paths, load_spec

BODY = "\n# func {0}(x: int): int\n\nOne more.\n\n* {0}(1) = 2\n"


def spec(folder: Path, name: str, *uses: str, csv: str | None = None) -> Path:
    """NAME.mrsh with one function named NAME, `# use`-ing `uses` (and a CSV type)."""
    lines = [f"# use {use}\n" for use in uses]
    if csv is not None:
        lines.append(f"\n# type Row {csv}\n")
    path = folder / f"{name}.mrsh"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines) + BODY.format(path.stem), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Path]:
    """app uses lib and util; lib uses util; util reads rows.csv."""
    (tmp_path / "rows.csv").write_text("a, b\n1, 2\n", encoding="utf-8")
    return {
        "util": spec(tmp_path, "util", csv="rows.csv"),
        "lib": spec(tmp_path, "lib", "util.mrsh"),
        "app": spec(tmp_path, "app", "lib.mrsh", "util.mrsh"),
        "csv": tmp_path / "rows.csv",
    }


def test_uses_and_users_of(project: dict[str, Path]) -> None:
    graph = SpecGraph()
    app, lib, util = project["app"], project["lib"], project["util"]
    assert graph.uses(app) == (lib, util)
    assert graph.uses(util) == ()
    assert graph.users_of([util]) == {app}  # the users among the specs read so far
    assert graph.uses(lib) == (util,)
    assert graph.users_of([util]) == {app, lib}
    # A CSV file's users are the spec whose type reads it and that spec's users.
    assert graph.users_of([project["csv"]]) == {util, lib, app}
    assert graph.users_of([app]) == frozenset()


def test_reached_is_nearest_first_each_spec_once_with_the_uses_that_reach_it(
    project: dict[str, Path],
) -> None:
    reached = list(SpecGraph().reached(project["app"]))
    assert [r.path for r in reached] == [project["lib"], project["util"]]
    assert [[use.path for use, _ in r.via] for r in reached] == [["lib.mrsh"], ["util.mrsh"]]


def test_order_puts_used_specs_first_and_otherwise_goes_by_path(tmp_path: Path) -> None:
    util = spec(tmp_path, "util")
    lib = spec(tmp_path, "lib", "util.mrsh")
    app = spec(tmp_path, "app", "lib.mrsh")
    alone = spec(tmp_path, "alone")
    assert SpecGraph().order([app, alone]) == [alone, util, lib, app]
    assert SpecGraph().order([util, lib]) == [util, lib]


def test_a_circle_of_uses_is_ordered_once_each_and_reported_by_loading(tmp_path: Path) -> None:
    b = spec(tmp_path, "b", "c.mrsh")
    c = spec(tmp_path, "c", "b.mrsh")
    a = spec(tmp_path, "a", "b.mrsh")
    graph = SpecGraph()
    assert graph.order([a]) == [c, b, a]
    assert graph.chain(c, b) == (c, b)
    assert graph.chain(b, a) is None
    assert [d.message for d in load_spec(b, graph).diagnostics if d.is_error] == [
        "circular use: b.mrsh -> c.mrsh -> b.mrsh"
    ]
    assert [d.message for d in load_spec(a, graph).diagnostics if d.is_error] == []


def test_a_spec_is_read_once_however_many_specs_use_it(
    project: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []

    def counting(file: Path) -> SpecText:
        reads.append(file.name)
        return read_spec(file)

    monkeypatch.setattr(graph_module, "read_spec", counting)
    results = load_paths([project["app"].parent])
    assert [Path(r.path).name for r in results] == ["app.mrsh", "lib.mrsh", "util.mrsh"]
    assert all(not r.has_errors for r in results)
    assert sorted(reads) == ["app.mrsh", "lib.mrsh", "util.mrsh"]


def test_changed_rereads_the_named_specs_and_recompiles_them_and_their_users(
    project: dict[str, Path],
) -> None:
    graph = SpecGraph()
    app, lib, util = project["app"], project["lib"], project["util"]
    graph.order([app])
    util.write_text(util.read_text() + "\n* util(2) = 3\n", encoding="utf-8")
    assert graph.changed([util]) == Changes(frozenset({util}), frozenset({util, lib, app}))
    assert graph.file(util).source.endswith("* util(2) = 3\n")
    # Saved unchanged: nothing to parse again, but the save asks for a compile.
    assert graph.changed([lib]) == Changes(frozenset(), frozenset({lib, app}))
    assert graph.changed([project["csv"]]) == Changes(frozenset(), frozenset({util, lib, app}))
    # A file nothing reads changes nothing.
    assert graph.changed([util.parent / "notes.txt"]) == Changes(frozenset(), frozenset())


def test_a_spec_saved_half_edited_keeps_what_it_reads(project: dict[str, Path]) -> None:
    graph = SpecGraph()
    app, lib, util = project["app"], project["lib"], project["util"]
    graph.order([app])
    lib.write_text("# use util.mrsh\n\n# func lib(x: int: int\n", encoding="utf-8")
    assert graph.changed([lib]).reparsed == {lib}
    assert graph.file(lib).module is None
    assert graph.uses(lib) == ()  # nothing to compile it with
    assert graph.users_of([util]) == {app, lib}  # but a change to util still reaches it


def test_a_deleted_spec_is_reparsed_as_unreadable_and_forgotten_on_request(
    project: dict[str, Path],
) -> None:
    graph = SpecGraph()
    app, lib, util = project["app"], project["lib"], project["util"]
    graph.order([app])
    util.unlink()
    assert graph.changed([util]) == Changes(frozenset({util}), frozenset({util, lib, app}))
    assert isinstance(graph.file(util).error, FileNotFoundError)
    assert project["csv"] in graph.all_reads()
    graph.forget(util)
    assert project["csv"] not in graph.all_reads()


def test_an_undecodable_spec_is_read_but_not_parsed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mrsh"
    bad.write_bytes(b"# func f(): int\n\nCaf\xe9.\n")
    user = spec(tmp_path, "user", "bad.mrsh")
    graph = SpecGraph()
    read = graph.file(bad)
    assert (read.error, read.parsed) == (None, None)
    assert read.source == "# func f(): int\n\nCaf\ufffd.\n"
    assert read.content is not None
    diagnostic = read.content.not_utf8("bad.mrsh")
    assert diagnostic is not None
    assert render(diagnostic, read.source) == (
        "bad.mrsh:3:4: error[M030]: spec is not UTF-8 text (byte 0xe9)\n"
        "    Caf\ufffd.\n"
        "       ^\n"
        "  hint: save the file as UTF-8"
    )
    assert [(d.code, d.message) for d in load_spec(user, graph).diagnostics if d.is_error] == [
        ("M034", "cannot read used spec 'bad.mrsh'")
    ]


def test_a_byte_order_mark_and_crlf_newlines_are_read_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "bom.mrsh"
    text = "\ufeff" + BODY.format("f").lstrip("\n").replace("\n", "\r\n")
    path.write_bytes(text.encode("utf-8"))
    result = load_spec(path)
    assert result.source == text  # the lock hashes the text as read
    assert result.module is not None and [f.name for f in result.module.funcs] == ["f"]
    assert [d for d in result.diagnostics if d.is_error] == []


def test_a_link_to_a_spec_reads_the_links_neighbours(tmp_path: Path) -> None:
    spec(tmp_path / "real", "helper")
    target = spec(tmp_path / "real", "main", "helper.mrsh")
    spec(tmp_path / "other", "helper")
    link = tmp_path / "other" / "main.mrsh"
    link.symlink_to(target)
    graph = SpecGraph()
    assert graph.uses(link) == (tmp_path / "other" / "helper.mrsh",)
    assert graph.uses(target) == (tmp_path / "real" / "helper.mrsh",)
