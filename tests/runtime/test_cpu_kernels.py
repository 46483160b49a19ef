"""Building our C kernels: once per machine and source, atomically, and never a hard failure."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from marshalike_runtime import cpu_kernels  # noqa: E402


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("MARSHALIKE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("MARSHALIKE_NO_KERNELS", raising=False)
    return tmp_path


def test_the_library_is_built_once_and_then_reused(cache: Path, monkeypatch) -> None:
    if cpu_kernels.c_compiler() is None:
        pytest.skip("no C compiler here")
    first = cpu_kernels._build()
    assert first is not None and first.path.parent == cache / "kernels"
    assert [p.name for p in (cache / "kernels").iterdir()] == [first.path.name]  # no temp left
    monkeypatch.setattr(cpu_kernels, "_compile", lambda *a: pytest.fail("compiled twice"))
    again = cpu_kernels._build()
    assert again is not None and again.path == first.path


def test_a_compiler_that_fails_leaves_no_kernels_and_no_files(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("CC", "false")  # found on PATH, fails every build
    assert cpu_kernels._build() is None
    assert not list((cache / "kernels").iterdir())


def test_no_compiler_at_all_means_no_kernels(cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(cpu_kernels, "c_compiler", lambda: None)
    assert cpu_kernels._build() is None


def test_the_kernels_can_be_turned_off(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("MARSHALIKE_NO_KERNELS", "1")
    assert cpu_kernels.kernels.__wrapped__() is None


def test_topk_indices_pick_the_same_rows_as_torch() -> None:
    import torch

    k = cpu_kernels.kernels()
    if k is None:
        pytest.skip("no C compiler here")
    g = torch.Generator().manual_seed(0)
    y = torch.randn(3, 5000, generator=g)
    y[1, 4990:] = 100.0  # the best values in the row's unaligned tail
    got = k.topk_indices(y, 64)
    assert got is not None and got.shape == (3, 64)
    want = y.topk(64, dim=-1).indices
    assert [set(r.tolist()) for r in got] == [set(r.tolist()) for r in want]
    assert k.topk_indices(y, 5000) is None  # over the kernel's 4096: the caller uses torch
