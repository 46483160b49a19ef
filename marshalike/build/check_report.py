"""Render `marshalike check` results: text for people, JSON for tools, JUnit XML for CI
dashboards, and GitHub Actions annotations when running there.

A finding's message may quote a spec, and a path may hold anything a file name can: the
text, the annotations and the XML show each control character as an escape (`printable`),
so none reaches a terminal and the XML stays well-formed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from xml.etree import ElementTree

from marshalike.build.freshness import Finding, SpecCheck
from marshalike.build.report import count
from marshalike.language.diagnostics import printable
from marshalike.synth.redact import redact_question


def text(checks: Sequence[SpecCheck]) -> str:
    lines = []
    for check in checks:
        passed = sum(r.status == "pass" for r in check.tests)
        path = printable(check.path)  # one line, whatever it holds (a line break)
        if check.ok:
            lines.append(f"{path}: ok ({count(passed, 'test')} passed)")
            lines.extend(f"  {name}: {s.shown()}" for name, s in check.strength.items())
            continue
        lines.append(f"{path}: FAILED")
        lines.extend(f"  {f.kind}: {printable(f.message)}" for f in check.findings)
    failed = sum(not c.ok for c in checks)
    lines.append(f"{count(len(checks), 'spec')} checked, {failed} failed")
    return "".join(printable(line) + "\n" for line in "\n".join(lines).split("\n"))


def as_json(checks: Sequence[SpecCheck]) -> str:
    data = [
        {
            "path": c.path,
            "ok": c.ok,
            "findings": [vars(f) for f in c.findings],
            "tests": [{"test": r.test, "status": r.status} for r in c.tests],
            "questions": {
                name: [redact_question(q) for q in asked] for name, asked in c.questions.items()
            },
            "strength": {name: s.to_json() for name, s in c.strength.items()},
        }
        for c in checks
    ]
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def junit(checks: Sequence[SpecCheck]) -> str:
    suites = ElementTree.Element("testsuites", name="marshalike check")
    for check in checks:
        suite = ElementTree.SubElement(suites, "testsuite", name=check.path)
        cases = _cases(check, suite)
        suite.set("tests", str(cases))
        suite.set("failures", str(len(check.findings)))
    for element in suites.iter():  # XML 1.0 holds no control character but tab and newline
        element.attrib = {key: printable(value) for key, value in element.attrib.items()}
        element.text = printable(element.text) if element.text else element.text
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _cases(check: SpecCheck, suite: ElementTree.Element) -> int:
    """A test case per generated test, then one per finding about the spec or its files."""
    failing = {f.test: f for f in check.findings if f.test is not None}
    for result in check.tests:
        case = ElementTree.SubElement(suite, "testcase", classname=check.path, name=result.test)
        if result.test in failing:
            _failure(case, failing[result.test])
    others = [f for f in check.findings if f.test is None]
    for finding in others:
        case = ElementTree.SubElement(suite, "testcase", classname=check.path, name=finding.kind)
        _failure(case, finding)
    if not check.tests and not others:
        ElementTree.SubElement(suite, "testcase", classname=check.path, name="outputs")
    return len(check.tests) + len(others) + (0 if check.tests or others else 1)


def _failure(case: ElementTree.Element, finding: Finding) -> None:
    kind = finding.status or finding.kind  # fail, error, timeout, not_run; or stale, edited, …
    failure = ElementTree.SubElement(case, "failure", message=finding.message, type=kind)
    failure.text = finding.message


def github_annotations(checks: Sequence[SpecCheck]) -> str:
    """`::error file=…,line=…,col=…::message` lines, which GitHub Actions shows on the diff."""
    lines = []
    for check in checks:
        for f in check.findings:
            message = _escape(f.message)
            where = f"file={_property(f.path)},line={f.line},col={f.column}"
            line = f"::error {where}::{message}"
            lines.append(printable(line))
    return "".join(line + "\n" for line in lines)


def _escape(data: str) -> str:
    """A workflow command's message, escaped as GitHub Actions reads it."""
    return data.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(value: str) -> str:
    """A workflow command's property value (`file=…`): a `,` or `:` would end it."""
    return _escape(value).replace(":", "%3A").replace(",", "%2C")
