"""The sandbox in a user namespace whose id map is narrow (rootless podman, userns-remap,
`unshare -r`): it falls back instead of failing every run, and a child that cannot start
says so in one line, never with a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from marshalike.sandbox import startup

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _unshare_r_works() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(["unshare", "-r", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def test_unmapped_ids_reads_the_maps(tmp_path) -> None:
    (tmp_path / "uid_map").write_text("         0          0          1\n")
    (tmp_path / "gid_map").write_text("         0          0          1\n")
    said = startup.unmapped_ids(200_000, 60_000, tmp_path)
    assert said is not None and "not mapped" in said
    (tmp_path / "uid_map").write_text("         0          0 4294967295\n")
    (tmp_path / "gid_map").write_text("         0     100000      65536\n 200000 300000 60000\n")
    assert startup.unmapped_ids(200_000, 60_000, tmp_path) is None
    assert startup.unmapped_ids(200_000, 60_000, tmp_path / "missing") is None


def test_a_bootstrap_that_fails_says_one_line() -> None:
    code = startup.guarded("import os\nraise OSError(22, 'Invalid argument', '/x/root/sandbox/')")
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 125
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "could not start" in done.stderr


_SCRIPT = f"""
import sys; sys.path.insert(0, {REPO!r})
from marshalike.sandbox import child, isolation as iso
level = iso.isolation()
if sys.argv[1] == "force":
    child.isolation = lambda: "namespaces"
result = child.run_module("m", [], files={{"m.py": "print('hi')"}}, limits=iso.Limits(timeout_s=20))
print(level, repr(iso.weaker_isolation()))
print(result.returncode, result.stdout.strip())
print(result.stderr)
"""


@pytest.mark.skipif(not _unshare_r_works(), reason="needs `unshare -r`")
def test_a_narrow_user_namespace_falls_back_and_runs() -> None:
    done = subprocess.run(
        ["unshare", "-r", sys.executable, "-c", _SCRIPT, "plain"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert not lines[0].startswith("namespaces"), lines
    assert "not mapped" in lines[0]
    assert lines[1] == "0 hi", done.stdout


@pytest.mark.skipif(not _unshare_r_works(), reason="needs `unshare -r`")
@pytest.mark.skipif(os.getuid() != 0, reason="the child takes a user id only when run as root")
def test_a_child_that_cannot_start_shows_no_traceback() -> None:
    done = subprocess.run(
        ["unshare", "-r", sys.executable, "-c", _SCRIPT, "force"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout
    assert "could not start" in done.stdout
