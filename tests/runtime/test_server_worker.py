"""The engine worker alone: the events a job produces, defaults, shutdown."""

from __future__ import annotations

from typing import Any

from fake_engine import FakeEngine

from marshalike_runtime.server_protocol import (
    APIError,
    Choice,
    GenerationRequest,
    Sampling,
    Usage,
)
from marshalike_runtime.server_worker import Delta, Done, EngineWorker, Started

MODEL = "fake-char"


def _run_job(engine: FakeEngine, request: GenerationRequest) -> list[Any]:
    worker = EngineWorker(engine, log=lambda message: None)
    worker.start()
    try:
        job = worker.submit(request)
        events = [job.events.get(timeout=10)]
        while not isinstance(events[-1], Done | APIError):
            events.append(job.events.get(timeout=10))
        return events
    finally:
        worker.stop(5)


def test_chat_default_max_tokens_is_capped_in_a_long_context() -> None:
    engine = FakeEngine(context_length=4096)
    messages = ({"role": "user", "content": "hi"},)
    request = GenerationRequest("chat", MODEL, Sampling(temperature=0.0), messages=messages)
    assert _run_job(engine, request) == [
        Started(7),
        Done([Choice(0, "ih:resu", "stop")], Usage(7, 7)),
    ]
    assert engine.calls[0]["max_tokens"] == 1024


def test_worker_streams_deltas_then_done() -> None:
    request = GenerationRequest(
        "completion", MODEL, Sampling(n=2, temperature=0.0), prompts=("ab",), stream=True
    )
    assert _run_job(FakeEngine(), request) == [
        Started(2),
        Delta(0, "b"),
        Delta(1, "b"),
        Delta(0, "a"),
        Delta(1, "a"),
        Done([Choice(0, "ba", "stop"), Choice(1, "ba", "stop")], Usage(2, 4)),
    ]


def test_a_stopped_worker_refuses_jobs() -> None:
    worker = EngineWorker(FakeEngine(), log=lambda message: None)
    worker.start()
    worker.stop(5)
    request = GenerationRequest("completion", MODEL, Sampling(), prompts=("ab",))
    error = worker.submit(request).events.get(timeout=5)
    assert isinstance(error, APIError)
    assert (error.status, error.message) == (503, "the server is shutting down")
