"""Aggregate decoding throughput of one engine with 1 and with N concurrent clients.

Each client asks for a completion of `--tokens` new tokens (greedy, different prompts) from
a thread of its own, as `marshalike serve`'s handlers and the compiler's `--jobs` units do.
Two ways of serving them, side by side in one run on one loaded engine:

- `queue`: one request at a time, in arrival order, by one worker thread (`Engine.stream`),
  as a FIFO server runs them;
- `batch`: every request submitted to the engine's batch thread (`Engine.submit`), which
  decodes them in one batch, each joining and leaving at a token boundary.

For each it prints the aggregate tokens/s (completion tokens of all clients over the wall
time), the slowest client's first token (`first`) and the slowest client's whole request;
then, for each number of clients, the batch's aggregate over the queue's and for how many
clients the batch gave the queue's tokens (greedy: it should be all of them).

With `--beside-busy-core`, the batch alone, with the clients of `--clients`' last count,
three ways in one run: on quiet cores; beside a process that keeps one core busy, its steps
on all their threads (`shared`); and beside it with each step leaving it a core (`left`,
as a compile's engine does for each sandboxed run going on: `Engine.busy_cores`).

    python -m benchmarks.serve_bench                       # embedded model, int4 on a CPU
    python -m benchmarks.serve_bench --clients 1,8 --tokens 128 --quant none
    MARSHALIKE_THREADS=2 python -m benchmarks.serve_bench --clients 1,8 --tokens 128
    MARSHALIKE_THREADS=2 python -m benchmarks.serve_bench --clients 8 --beside-busy-core
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import torch

from marshalike_runtime.engine import Engine

PROMPTS = [
    "def fibonacci(n: int) -> int:\n",
    "def is_palindrome(s: str) -> bool:\n",
    "# Sort a list of people by age, then by name.\ndef sort_people(people):\n",
    "def parse_csv_line(line: str) -> list[str]:\n",
    "class Stack:\n    def __init__(self):\n",
    "import json\n\ndef load_config(path):\n",
    "def gcd(a: int, b: int) -> int:\n",
    "def flatten(nested: list) -> list:\n",
]


def run_clients(engine: Any, mode: str, clients: int, tokens: int) -> dict[str, Any]:
    firsts: list[float] = []
    totals: list[float] = []
    counts: list[int] = []
    outputs: dict[int, list[int]] = {}
    inbox: queue.Queue[tuple[list[int], dict[str, Any], queue.Queue[Any]] | None] = queue.Queue()

    def worker() -> None:  # the queue: one thread runs the requests in arrival order
        while (job := inbox.get()) is not None:
            ids, settings, events = job
            for item in engine.stream(ids, **settings):
                events.put(item)
            events.put(None)

    def requested(ids: list[int], settings: dict[str, Any]) -> Iterator[Any]:
        events: queue.Queue[Any] = queue.Queue()
        inbox.put((ids, settings, events))
        while (item := events.get()) is not None:
            yield item

    serving = threading.Thread(target=worker)
    if mode == "queue":
        serving.start()
    start = time.perf_counter()

    def client(i: int) -> None:
        ids = engine.tokenizer.encode(PROMPTS[i % len(PROMPTS)])
        settings = {"max_tokens": tokens, "temperature": 0.0}
        events = (
            engine.submit(ids, **settings).stream() if mode == "batch" else requested(ids, settings)
        )
        first = None
        for item in events:
            if first is None:
                first = time.perf_counter() - start
            if not isinstance(item, tuple):
                counts.append(item.completion_tokens)
                outputs[i] = list(item.token_ids)
        firsts.append(first or 0.0)
        totals.append(time.perf_counter() - start)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if mode == "queue":
        inbox.put(None)
        serving.join()
    return {
        "tokens_s": sum(counts) / wall,
        "first": max(firsts),
        "last": max(totals),
        "outputs": outputs,
    }


def _spin(stop: Any) -> None:
    while not stop.is_set():
        pass


def beside_busy_core(engine: Any, clients: int, tokens: int) -> None:
    """The batch's tokens/s on quiet cores, beside a busy process on all its threads, and
    beside it with a core left to it."""
    rows = {}
    for way in ("quiet", "shared", "left"):
        stop = multiprocessing.Event()
        neighbour = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
        if way != "quiet":
            neighbour.start()
        engine.busy_cores = (lambda: 1) if way == "left" else None
        try:
            rows[way] = run_clients(engine, "batch", clients, tokens)
        finally:
            engine.busy_cores = None
            stop.set()
            if way != "quiet":
                neighbour.join()
        print(f"{way:6} {clients:>7} {rows[way]['tokens_s']:>9.1f}", flush=True)
    same = sum(rows["left"]["outputs"][i] == rows["shared"]["outputs"][i] for i in range(clients))
    ratio = rows["left"]["tokens_s"] / rows["shared"]["tokens_s"]
    print(
        f"  beside a busy core: a core left to it {ratio:.2f}x "
        f"the tokens/s of all threads; the same tokens for {same} of {clients} clients",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="GGUF or folder (default: embedded)")
    parser.add_argument("--quant", default="int4", help="int4 or none (default int4)")
    parser.add_argument("--clients", default="1,8", help="client counts (default 1,8)")
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per client")
    parser.add_argument("--modes", default="queue,batch", help="queue, batch or both")
    parser.add_argument(
        "--beside-busy-core", action="store_true", help="the batch beside a busy process"
    )
    opts = parser.parse_args(argv)
    engine = Engine.load(opts.model, quant=None if opts.quant == "none" else opts.quant)
    run_clients(engine, "queue", 1, 8)  # warm up: kernels, caches
    print(
        f"model {engine.model_name}, {opts.tokens} new tokens per client (greedy), "
        f"{torch.get_num_threads()} threads (MARSHALIKE_THREADS sets them; else the idle cores)"
    )
    if opts.beside_busy_core:
        print(f"{'cores':6} {'clients':>7} {'tokens/s':>9}")
        beside_busy_core(engine, int(opts.clients.split(",")[-1]), opts.tokens)
        return 0
    print(f"{'mode':6} {'clients':>7} {'tokens/s':>9} {'first s':>8} {'last s':>8}")
    for clients in (int(c) for c in opts.clients.split(",")):
        runs = {}
        for mode in opts.modes.split(","):
            r = runs[mode] = run_clients(engine, mode, clients, opts.tokens)
            print(
                f"{mode:6} {clients:>7} {r['tokens_s']:>9.1f} {r['first']:>8.2f} {r['last']:>8.2f}",
                flush=True,
            )
        if {"queue", "batch"} <= runs.keys():
            queued, batched = runs["queue"], runs["batch"]
            same = sum(batched["outputs"][i] == queued["outputs"][i] for i in range(clients))
            print(
                f"  {clients} clients: batch {batched['tokens_s'] / queued['tokens_s']:.2f}x the "
                f"queue's tokens/s; the queue's tokens for {same} of {clients} clients",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
