"""Standard value types an example builds by their own names (`Decimal('1.50')`): the
generated tests import them from their modules, and the verifier reads them there too."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pytest_run import run_pytest

from marshalike.codegen import emit
from marshalike.language.parse import parse
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.verify import verify_module

SPEC = """\
# func parse_price(text: str): Decimal

Parse a price such as '1.50'.

* parse_price('1.50') = Decimal('1.50')
* parse_price('2') = Decimal('2')
* parse_price('0.10') = Decimal('0.10')

# func tally(text: str): dict

The count of each letter.

* tally('aab') = Counter({'a': 2, 'b': 1})
* tally('') = Counter()
* tally('x') = Counter('x')
"""
RIGHT = (
    "import collections\nimport decimal\n\n\ndef parse_price(text):\n"
    "    return decimal.Decimal(text)\n\n\ndef tally(text):\n"
    "    return collections.Counter(text)\n"
)
WRONG = RIGHT.replace("decimal.Decimal(text)", "decimal.Decimal(text) + 1")
FAST = Limits(timeout_s=5.0, memory_mb=1024)


def module_and_tests() -> tuple[object, str]:
    parsed = parse(SPEC, "price.mrsh")
    assert parsed.module is not None
    tests = emit.test_source(
        parsed.module, module_name="price", spec_name="price.mrsh", spec_hash=emit.spec_hash(SPEC)
    )
    return parsed.module, tests


def pytest_of(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    _, tests = module_and_tests()
    (tmp_path / "price.py").write_text(code, encoding="utf-8")
    (tmp_path / "test_price.py").write_text(tests, encoding="utf-8")
    return run_pytest(tmp_path, "test_price.py")


def test_the_tests_import_the_types_from_their_modules(tmp_path: Path) -> None:
    _, tests = module_and_tests()
    assert "from collections import Counter\nfrom decimal import Decimal\n" in tests
    assert "6 passed" in pytest_of(tmp_path, RIGHT).stdout
    assert "3 failed, 3 passed" in pytest_of(tmp_path, WRONG).stdout


def test_the_verifier_reads_them_as_the_tests_do() -> None:
    module, _ = module_and_tests()
    verdicts = [
        verify_module(module, code, module_name="price", limits=FAST)  # type: ignore[arg-type]
        for code in (RIGHT, WRONG)
    ]
    assert verdicts[0].ok, verdicts[0].results
    assert [r.status for r in verdicts[1].results] == ["fail"] * 3 + ["pass"] * 3
