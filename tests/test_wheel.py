"""The wheel ships the grammar: build it, install it into a fresh venv, parse from there."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
# func add(a: int, b: int): int

Return the sum.

* add(1, 2) = 3
"""


@pytest.mark.slow
def test_wheel_installs_and_parses_without_the_source_tree(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)]
    subprocess.run(build, check=True, capture_output=True, text=True)
    wheel = next(dist.glob("marshalike-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "marshalike/grammar/mrsh.lark" in names
    assert "marshalike_runtime/__init__.py" in names
    assert not any(name.startswith("runtime/") for name in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "-q", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, text=True)
    (tmp_path / "add.mrsh").write_text(SPEC, encoding="utf-8")
    # Run from an empty folder, so nothing of the source tree can be imported.
    run = subprocess.run(
        [str(python), "-m", "marshalike", "parse", "--json", "add.mrsh"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert '"name": "add"' in run.stdout
    where = subprocess.run(
        [str(python), "-c", "import marshalike, sys; print(marshalike.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(env_dir) in where.stdout
    torch_free = subprocess.run(
        [
            str(python),
            "-c",
            "import marshalike.cli.main, marshalike.build.compiler, sys;"
            " print('torch' in sys.modules)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert torch_free.stdout.strip() == "False"
