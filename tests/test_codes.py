"""The registry of diagnostic codes is the only place a code is written: every other
module names one as `Code.NAME`, and every registered code is reported somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from marshalike.language.codes import Code

PACKAGE = Path(__file__).resolve().parents[1] / "marshalike"
REGISTRY = PACKAGE / "language" / "codes.py"
CODE_LITERAL = re.compile(r"""(["'])M\d{3}\1""")


def _sources() -> dict[Path, str]:
    files = sorted(p for p in PACKAGE.rglob("*.py") if p != REGISTRY)
    return {p: p.read_text(encoding="utf-8") for p in files}


def test_no_module_writes_a_code_as_a_string() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path, text in _sources().items()
        for number, line in enumerate(text.splitlines(), 1)
        if CODE_LITERAL.search(line)
    ]
    assert found == []


def test_every_registered_code_is_reported_somewhere() -> None:
    text = "\n".join(_sources().values())
    unused = [code.name for code in Code if re.search(rf"\bCode\.{code.name}\b", text) is None]
    assert unused == []


@pytest.mark.parametrize("code", list(Code), ids=str)
def test_each_code_has_a_severity_and_a_one_line_summary(code: Code) -> None:
    assert re.fullmatch(r"M\d{3}", code)
    assert code.severity in ("error", "warning")
    assert code.summary and "\n" not in code.summary and len(code.summary) <= 80


def test_a_code_is_looked_up_by_its_text_and_an_unknown_one_fails() -> None:
    assert Code("M012") is Code.UNKNOWN_FUNCTION
    assert Code.UNKNOWN_FUNCTION == "M012"
    assert f"{Code.UNKNOWN_FUNCTION}" == "M012"
    with pytest.raises(ValueError, match="'M099' is not a valid Code"):
        Code("M099")
