"""However many units ask at once, the openai backend keeps at most `--jobs` requests in
flight to the server: a busy server gets a queue on the client side, not a pile-up."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fake_openai import FakeOpenAI

from marshalike.backends.base import BackendOptions, Prompt, Sampling
from marshalike.backends.openai_backend import from_options


def test_requests_in_flight_never_exceed_jobs() -> None:
    lock = threading.Lock()
    now = {"in_flight": 0, "most": 0}

    def slow(request: object) -> str:
        with lock:
            now["in_flight"] += 1
            now["most"] = max(now["most"], now["in_flight"])
        time.sleep(0.05)
        with lock:
            now["in_flight"] -= 1
        return "ok"

    with FakeOpenAI(script=slow, ignore_n=True) as server:
        options = BackendOptions(model="fake-model", base_url=server.base_url, jobs=2)
        backend = from_options(options)
        sampling = Sampling(n=3, temperature=0.5, max_tokens=8, seed=1)
        prompt = Prompt("chat", messages=(("user", "hi"),))
        with ThreadPoolExecutor(max_workers=4) as units:  # four units at once
            results = list(units.map(lambda _: backend.generate(prompt, sampling), range(4)))
        assert [len(r) for r in results] == [3, 3, 3, 3]  # n ignored: topped up
        assert server.count == 12
    assert now["most"] == 2
