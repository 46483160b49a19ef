"""What `marshalike init` writes into a project: the `[tool.marshalike]` table, a first
spec, a pre-commit hook and a GitHub Actions workflow; and where CI installs marshalike
from.

CI must run the marshalike that compiled the committed code, installed by pip from its git
repository. That URL (`install_source`) is, in order: `marshalike init --source`; the git
URL and commit pip recorded when this marshalike was installed from git; the `origin` remote
and commit of the checkout an editable install runs from; the `Repository` (or `Source`)
entry of marshalike's `[project.urls]`. Where none is known the workflow reads it from the
repository variable `MARSHALIKE_SOURCE` (`vars.MARSHALIKE_SOURCE`), and says so when it is
unset, and the pre-commit hook runs the marshalike installed beside git.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

# Each starts with a comment that says what wrote it; the texts are the files' whole content.
TOOL_TABLE = """\
[tool.marshalike]
# marshalike's settings for this project: `marshalike config` shows each value and where it
# came from; environment variables (MARSHALIKE_*) and flags override them.
seed = 0
# out = "generated"  # write the outputs here instead of beside each spec
"""

# A spec the embedded model (the default) compiles at every seed tried (0 to 5), so a new
# project's first compile passes on another CPU too, where sampling draws otherwise.
SPEC_PATH = "specs/reverse_text.mrsh"
SPEC = """\
# func reverse_text(text: str): str

Return the text with its characters in reverse order.

* reverse_text('abc') = 'cba'
* reverse_text('') = ''
* reverse_text('a') = 'a'
* reverse_text('hello world') = 'dlrow olleh'
"""

# The generated outputs the hook must see change too: a module or test edited by hand, a
# lock edited or deleted.
HOOK_FILES = r"(\.mrsh|\.py|\.lock\.json)$"
HOOK_ENTRY = "marshalike check ."

WORKFLOW_PATH = ".github/workflows/marshalike.yml"
WORKFLOW = """\
# Fails the build when code generated from .mrsh specs is stale, edited by hand, missing,
# or failing its tests. `marshalike init` writes it as .github/workflows/marshalike.yml;
# marshalike's docs/github-actions.md explains each step.
name: marshalike check

on:
  push:
  pull_request:

permissions:
  contents: read

env:
  # What pip installs: the marshalike that compiled the committed code, from its git
  # repository (git+https://HOST/OWNER/marshalike@COMMIT).
  MARSHALIKE_SOURCE: {source}

jobs:
  check:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install marshalike
        run: |
          if [ -z "$MARSHALIKE_SOURCE" ]; then
            echo "::error::set the repository variable MARSHALIKE_SOURCE to marshalike's git URL (git+https://HOST/OWNER/marshalike@COMMIT)"
            exit 1
          fi
          python -m pip install "$MARSHALIKE_SOURCE"
      - name: Check generated code
        # No model is called. Exit status 1 fails the job; the runner turns the
        # ::error lines on stderr into annotations on the spec lines.
        run: marshalike check --format junit . > marshalike-check.xml
      - name: Keep the JUnit report
        if: ${{{{ !cancelled() }}}}
        uses: actions/upload-artifact@v4
        with:
          name: marshalike-check
          path: marshalike-check.xml
"""
# Where no source is known: the repository variable (Settings > Secrets and variables >
# Actions > Variables), empty until it is set.
SOURCE_VARIABLE = "${{ vars.MARSHALIKE_SOURCE }}"

PRE_COMMIT_PATH = ".pre-commit-config.yaml"
PRE_COMMIT = """\
# Written by `marshalike init`: `marshalike check` (no model calls) fails a commit whose
# specs changed without a recompile, or whose generated files were edited by hand.
repos:
  - repo: local
    hooks:
      - id: marshalike-check
        name: marshalike check
        entry: {entry}
        files: {files}
        pass_filenames: false
{install}"""
# The hook's own environment, with marshalike from its git repository.
PRE_COMMIT_PYTHON = """\
        language: python
        additional_dependencies: ["marshalike @ {source}"]
"""
# No known source: the marshalike installed where git runs (the one that compiles).
PRE_COMMIT_SYSTEM = """\
        # The marshalike on PATH where git runs; to let pre-commit install its own, use
        # `language: python` and `additional_dependencies: ["marshalike @ git+https://..."]`.
        language: system
"""


@dataclass(frozen=True)
class Source:
    """A pip requirement URL for marshalike (`git+https://HOST/OWNER/marshalike@COMMIT`)
    and where it was found."""

    url: str
    found: str


def workflow(source: Source | None) -> str:
    value = json.dumps(source.url) if source else SOURCE_VARIABLE
    return WORKFLOW.format(source=value)


def pre_commit(source: Source | None) -> str:
    install = PRE_COMMIT_PYTHON.format(source=source.url) if source else PRE_COMMIT_SYSTEM
    return PRE_COMMIT.format(entry=HOOK_ENTRY, files=HOOK_FILES, install=install)


def valid_source(url: str) -> bool:
    """A git URL pip installs, with nothing a YAML or shell line would misread."""
    return bool(re.fullmatch(r"git\+(https|ssh|file)://[^\s\"'`$\\]+", url))


def install_source() -> Source | None:
    """Where this marshalike can be installed from again (module docstring), or None."""
    try:
        dist = metadata.distribution("marshalike")
    except metadata.PackageNotFoundError:
        return None
    direct = _direct_url(dist)
    vcs = direct.get("vcs_info")
    url = direct.get("url")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and isinstance(url, str):
        commit = vcs.get("commit_id")
        pinned = f"git+{url}@{commit}" if commit else f"git+{url}"
        return Source(pinned, "the git URL pip installed marshalike from")
    if isinstance(url, str) and url.startswith("file://"):
        checkout = _checkout_source(Path(unquote(urlparse(url).path)))
        if checkout is not None:
            return checkout
    for entry in dist.metadata.get_all("Project-URL") or []:
        label, _, link = entry.partition(",")
        if label.strip().lower() in ("repository", "source") and link.strip():
            return Source(f"git+{link.strip()}", "marshalike's [project.urls]")
    return None


def _direct_url(dist: metadata.Distribution) -> dict[str, object]:
    try:
        found = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _checkout_source(folder: Path) -> Source | None:
    """The `origin` remote of the git checkout marshalike runs from, as an https URL, with
    its commit when a remote branch holds it (else the remote's default branch)."""
    remote = _git(folder, "remote", "get-url", "origin")
    if remote is None:
        return None
    ssh = re.fullmatch(r"[\w.-]+@([\w.-]+):(.+)", remote)
    if ssh:
        remote = f"https://{ssh[1]}/{ssh[2]}"
    if not remote.startswith("https://"):
        return None
    commit = _git(folder, "rev-parse", "HEAD")
    pushed = commit and _git(folder, "branch", "--remotes", "--contains", commit)
    url = f"git+{remote}@{commit}" if pushed else f"git+{remote}"
    return Source(url, f"the origin remote of {folder}")


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
