"""The generated test files of one folder run together, in one pytest session, as `pytest`
run in that folder runs them. Each spec is checked apart, so code that changes state
another spec's tests read (a standard module's constant no example of its own spec reads)
passes every spec's own check and fails there. Fail-only, like every pytest run of model
code (`under_pytest`): a failure it names is a finding of the spec whose test file failed;
one it names no test file of is a finding of every spec of the folder."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from marshalike.build.freshness import Finding, SpecCheck
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.under_pytest import pytest_failures


def checked_together(checks: Sequence[SpecCheck], limits: Limits) -> list[SpecCheck]:
    """`checks`, each spec whose tests passed alone but fail with its folder's other
    generated tests in one session given a finding that says so."""
    folders: defaultdict[Path, list[int]] = defaultdict(list)
    for index, check in enumerate(checks):
        if check.ok and check.tests_file is not None:
            folders[Path(check.tests_file).parent].append(index)
    found: dict[int, Finding] = {}
    for folder, indices in sorted(folders.items()):
        if len(indices) < 2:
            continue  # its own check ran it alone already
        by_name = {Path(checks[i].tests_file or "").name: i for i in indices}
        files = {name: text for i in indices for name, text in checks[i].files.items()}
        for name, why in pytest_failures(files, sorted(by_name), limits).items():
            said = (
                f"fails when its folder's generated tests run in one pytest session ({why}), "
                "though it passes alone: another spec's code changes what its tests read"
            )
            found[by_name[name]] = Finding("test-failed", said, str(folder / name), status="fail")
    return [
        replace(check, findings=(*check.findings, found[i])) if i in found else check
        for i, check in enumerate(checks)
    ]
