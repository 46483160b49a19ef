"""docs/language.md documents every diagnostic code, and its examples are true.

Under each `### MNNN: summary` heading of the reference, the first fenced block whose info
string starts with `mrsh` is a spec that triggers that code; further `mrsh NAME` or
`csv NAME` blocks are files beside it. An info string is `LANG [NAME [ENCODING]]`: the
spec is saved as NAME (default `example.mrsh`) in ENCODING (default UTF-8). Each spec goes
through what `marshalike parse` runs (`load_paths`), then, when it checks clean, through
the compile's plan (`make_plan`), and must be reported with its code and that code's
severity, and with no error of another code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from marshalike.build.plan import make_plan
from marshalike.language.codes import Code
from marshalike.language.diagnostics import Diagnostic
from marshalike.language.load import load_paths

DOCS = Path(__file__).resolve().parents[1] / "docs" / "language.md"
CODE_HEADING = re.compile(r"^### (M\d{3}): (.+)$", re.MULTILINE)
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
SEVERITY = {"**Error.**": "error", "**Warning.**": "warning"}


@dataclass(frozen=True)
class File:
    name: str
    text: str
    encoding: str


@dataclass(frozen=True)
class Section:
    code: str
    summary: str
    severity: str | None
    files: tuple[File, ...]  # the spec to load first


def _sections() -> dict[str, Section]:
    text = DOCS.read_text(encoding="utf-8")
    headings = list(CODE_HEADING.finditer(text))
    ends = [h.start() for h in headings[1:]] + [len(text)]
    return {
        h.group(1): _section(h.group(1), h.group(2), text[h.end() : end])
        for h, end in zip(headings, ends, strict=True)
    }


def _section(code: str, summary: str, body: str) -> Section:
    words = body.split(maxsplit=1)
    severity = SEVERITY.get(words[0]) if words else None
    files = [_file(m.group(1).split(), m.group(2)) for m in FENCE.finditer(body)]
    return Section(code, summary, severity, tuple(f for f in files if f is not None))


def _file(info: list[str], text: str) -> File | None:
    if not info or info[0] not in ("mrsh", "csv"):
        return None
    name = info[1] if len(info) > 1 else "example.mrsh"
    return File(name, text, info[2] if len(info) > 2 else "utf-8")


SECTIONS = _sections()


def reported(section: Section, folder: Path) -> list[Diagnostic]:
    """What `marshalike parse` reports for the section's spec, and what `compile` adds
    before asking a model (its plan's diagnostics)."""
    for file in section.files:
        (folder / file.name).write_bytes(file.text.encode(file.encoding))
    (loaded,) = load_paths([folder / section.files[0].name])
    if loaded.module is None or loaded.has_errors:
        return list(loaded.diagnostics)
    plan = make_plan(loaded.module, model="model", template_version="templates")
    return [*loaded.diagnostics, *plan.diagnostics]


def test_every_registered_code_is_documented_and_every_documented_code_registered() -> None:
    assert sorted(SECTIONS) == sorted(Code)


@pytest.mark.parametrize("code", sorted(SECTIONS))
def test_the_heading_and_severity_are_the_registrys(code: str) -> None:
    section, registered = SECTIONS[code], Code(code)
    assert (section.summary, section.severity) == (registered.summary, registered.severity)


@pytest.mark.parametrize("code", sorted(SECTIONS))
def test_the_example_reports_its_code(code: str, tmp_path: Path) -> None:
    section = SECTIONS[code]
    assert section.files, f"{code} has no ```mrsh example"
    found = reported(section, tmp_path)
    ours = [d for d in found if d.code == code]
    assert ours, f"{code} not reported; got {[d.code for d in found]}"
    assert {d.severity for d in ours} == {Code(code).severity}
    assert [d.code for d in found if d.is_error and d.code != code] == []


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def test_links_within_the_reference_lead_to_its_headings() -> None:
    text = DOCS.read_text(encoding="utf-8")
    outside_code = FENCE.sub("", text)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", outside_code, re.MULTILINE)}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert sorted(links - anchors) == []
