"""Side-by-side speed of our runtime, Hugging Face transformers and llama.cpp on one GGUF.

Each engine runs in its own subprocess (so its peak RSS is its own) and measures, on the same
prompt text cut to the same number of tokens, with greedy decoding and EOS ignored:
load time, prefill tok/s, decode tok/s for one stream, aggregate decode tok/s for a batch,
peak RSS, and the first greedy tokens (to check the engines agree). Timings are medians of
`--repeats` runs after one warm-up. Decode rates exclude the prefill: (new tokens - 1) / (time
of the whole generation - time of a one-token generation).

This machine's memory bandwidth drifts by tens of percent over minutes, which moves one
engine's figures and not the other's when they run one after another. `--rounds N` runs the
engines N times in alternating order (fresh processes each time) and reports, per engine,
the median of each figure over the rounds, and the range of its decode rates.

Our quantized modes also report their agreement with our fp32 mode: the share of prompts
whose first 64 greedy tokens are identical, over `--agreement-prompts` short prompts (16
tokens or fewer: decoded by our C kernels from the first token) and `--agreement-specs`
prompts made of the first 200 tokens of the specs in benchmarks/specs (long enough that
their prefill runs through torch's products, bf16 where the CPU has them; see quant_linear.py).

    python -m benchmarks.runtime_bench                      # everything importable
    python -m benchmarks.runtime_bench --quick              # 1 repeat, 32 tokens, 2 prompts
    python -m benchmarks.runtime_bench --engines ours-int4,llamacpp --rounds 5 \\
        --agreement-prompts 0 --reference-python /path/to/reference-venv/bin/python
    python -m benchmarks.runtime_bench --engines ours-fp32,ours-int4 \\
        --reference-python /path/to/reference-venv/bin/python   # the peers from another venv

Engines: ours-fp32, ours-bf16, ours-int4 (the runtime's quantized CPU mode, see quant.py),
transformers (fp32, `gguf_file=`), llamacpp (the file's own quantization, via
llama-cpp-python, `use_extra_bufts=False`). This file imports nothing heavy at module level,
so a worker can run under an interpreter that has only its own engine installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# About 260 tokens of the kind of text the compiler sends: a spec, code and prose.
PROMPT_TEXT = '''# func merge_intervals(list of intervals): list of intervals

Merge overlapping intervals. Each interval is a pair (start, end) with start <= end.
The result is sorted by start, and no two intervals in it overlap or touch.

* merge_intervals([]) = []
* merge_intervals([(1, 3), (2, 6), (8, 10), (15, 18)]) = [(1, 6), (8, 10), (15, 18)]
* merge_intervals([(1, 4), (4, 5)]) = [(1, 5)]

def merge_intervals(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping intervals and return them sorted by their start.

    >>> merge_intervals([(1, 3), (2, 6)])
    [(1, 6)]
    """
    if not intervals:
        return []
    ordered = sorted(intervals, key=lambda pair: pair[0])
    merged = [ordered[0]]
    for start, end in ordered[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def count_words(text: str) -> dict[str, int]:
    """Count how often each lower-cased word occurs in the text, ignoring punctuation.
'''

AGREEMENT_PROMPTS = [
    'def fibonacci(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n',
    "def is_palindrome(s: str) -> bool:\n",
    "# Sort a list of people by age, then by name.\ndef sort_people(people):\n",
    "The three laws of thermodynamics are",
    'def parse_csv_line(line: str) -> list[str]:\n    """Split one CSV line, honouring quotes.',
    'class Stack:\n    """A last-in, first-out stack."""\n\n    def __init__(self):\n',
    "import json\n\ndef load_config(path):\n",
    "Once upon a time, in a small village by the sea,",
    "def gcd(a: int, b: int) -> int:\n",
    "SELECT name, COUNT(*) FROM orders",
    'def flatten(nested: list) -> list:\n    """Flatten arbitrarily nested lists."""\n',
    "Q: What is the capital of France?\nA:",
]
AGREEMENT_TOKENS = 64
SPEC_PROMPT_TOKENS = 200
SPECS = Path(__file__).resolve().parent / "specs"
FIRST_TOKENS = 20
OURS = {
    "ours-fp32": ("fp32", None),
    "ours-bf16": ("bf16", None),
    "ours-int4": ("fp32", "int4"),
}
ALL_ENGINES = [*OURS, "transformers", "llamacpp"]


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


def physical_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def median_timing(run: Callable[[], Any], repeats: int) -> float:
    """Median seconds of `run` over `repeats` calls, after one untimed warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rates(
    generate: Callable[[int, int], Any], prompt_len: int, opts: argparse.Namespace
) -> dict[str, float]:
    """Prefill and decode rates from `generate(batch, new_tokens)`."""
    out: dict[str, float] = {}
    prefill_1 = median_timing(lambda: generate(1, 1), opts.repeats)
    out["prefill_tok_s"] = prompt_len / prefill_1
    full_1 = median_timing(lambda: generate(1, opts.new_tokens), opts.repeats)
    out["decode_tok_s"] = (opts.new_tokens - 1) / (full_1 - prefill_1)
    if opts.batch > 1:
        prefill_b = median_timing(lambda: generate(opts.batch, 1), opts.repeats)
        full_b = median_timing(lambda: generate(opts.batch, opts.new_tokens), opts.repeats)
        out["batch_decode_tok_s"] = opts.batch * (opts.new_tokens - 1) / (full_b - prefill_b)
    return out


# --- workers: each runs in its own process and prints one JSON line --------------------


class NumberText:
    """The tokenizer of a random-weight model (`--random-config`): text is the ids' numbers.

    Random weights have no vocabulary; this gives the engine something to decode so the
    timing runs through the same code as a real model. Its figures are speed only.
    """

    eos_ids: frozenset[int] = frozenset()

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size

    def encode(self, text: str) -> list[int]:
        return [(ord(ch) * 7919) % self.vocab_size for ch in text]

    def decode(self, ids: list[int]) -> str:
        return " ".join(map(str, ids))


def load_ours(name: str, opts: argparse.Namespace) -> Any:
    import torch

    from marshalike_runtime.engine import Engine, default_device, resolve_dtype
    from marshalike_runtime.model import ModelArgs, Transformer
    from marshalike_runtime.quant import quantize_model

    dtype, quant = OURS[name]
    if not opts.random_config:
        return Engine.load(opts.model, device=opts.device, dtype=dtype, quant=quant, progress=False)
    device = torch.device(opts.device) if opts.device else default_device()
    args = ModelArgs.from_name(opts.random_config)
    torch.manual_seed(0)
    with torch.device(device):
        model = Transformer(args).to(resolve_dtype(dtype, device)).eval()
    if quant is not None:
        quantize_model(model, quant)
    label = f"{opts.random_config} (random weights)"
    return Engine(model, NumberText(args.vocab_size), model_name=label)


def worker_ours(name: str, opts: argparse.Namespace) -> dict[str, Any]:
    import torch

    # The peers get every physical core: so does ours, whatever the load average says
    # (the engine would leave busy cores alone), unless MARSHALIKE_THREADS says otherwise.
    os.environ.setdefault("MARSHALIKE_THREADS", str(physical_cores()))
    start = time.perf_counter()
    engine = load_ours(name, opts)
    load_s = time.perf_counter() - start
    engine.eos_ids = frozenset()  # always generate the full number of tokens
    ids = engine.tokenizer.encode(PROMPT_TEXT)[: opts.prompt_tokens]

    def generate(batch: int, new: int) -> list[int]:
        return engine.generate(ids, n=batch, max_tokens=new)[0].token_ids

    result = {"load_s": load_s, "prompt_tokens": len(ids), **rates(generate, len(ids), opts)}
    result["first_tokens"] = generate(1, FIRST_TOKENS)
    if not opts.random_config:  # agreement means nothing for random weights
        short = [engine.tokenizer.encode(p) for p in AGREEMENT_PROMPTS[: opts.agreement_prompts]]
        specs = [engine.tokenizer.encode(t)[:SPEC_PROMPT_TOKENS] for t in spec_texts(opts)]
        for key, prompts in (("agreement_ids", short), ("agreement_spec_ids", specs)):
            result[key] = [
                engine.generate(p, max_tokens=AGREEMENT_TOKENS)[0].token_ids for p in prompts
            ]
    result["threads"] = torch.get_num_threads()
    result["device"] = str(engine.device)
    if engine.device.type == "cuda":
        result["cuda_peak_gb"] = torch.cuda.max_memory_allocated() / 1e9
    return result


def worker_transformers(opts: argparse.Namespace) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(physical_cores())
    path = Path(opts.model)
    start = time.perf_counter()
    kwargs = {"gguf_file": path.name, "dtype": torch.float32}
    model = AutoModelForCausalLM.from_pretrained(path.parent, **kwargs).eval()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    load_s = time.perf_counter() - start
    ids = tokenizer(PROMPT_TEXT, return_tensors="pt").input_ids[:, : opts.prompt_tokens]

    @torch.inference_mode()
    def generate(batch: int, new: int) -> list[int]:
        batch_ids = ids.repeat(batch, 1)
        out = model.generate(
            batch_ids,
            attention_mask=torch.ones_like(batch_ids),
            max_new_tokens=new,
            min_new_tokens=new,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id or 0,
        )
        return out[0, ids.shape[1] :].tolist()

    result = {
        "load_s": load_s,
        "prompt_tokens": ids.shape[1],
        **rates(generate, ids.shape[1], opts),
    }
    result["first_tokens"] = generate(1, FIRST_TOKENS)
    result["threads"] = torch.get_num_threads()
    return result


def worker_llamacpp(opts: argparse.Namespace) -> dict[str, Any]:
    # A worker runs this file as a script (`spawn`), so its folder is on sys.path.
    from llamacpp_runner import LlamaCppRunner

    start = time.perf_counter()
    n_ctx = opts.prompt_tokens + opts.batch * opts.new_tokens + 64
    runner = LlamaCppRunner(
        str(opts.model), n_ctx=n_ctx, n_seq=max(1, opts.batch), threads=physical_cores()
    )
    load_s = time.perf_counter() - start
    ids = runner.tokenize(PROMPT_TEXT)[: opts.prompt_tokens]

    def generate(batch: int, new: int) -> list[int]:
        return runner.generate(ids, batch, new)

    result = {"load_s": load_s, "prompt_tokens": len(ids), **rates(generate, len(ids), opts)}
    result["first_tokens"] = generate(1, FIRST_TOKENS)
    result["threads"] = physical_cores()
    return result


def spec_texts(opts: argparse.Namespace) -> list[str]:
    """The texts of the first `--agreement-specs` specs of benchmarks/specs, by path."""
    paths = sorted(SPECS.rglob("*.mrsh"))[: opts.agreement_specs]
    return [path.read_text(encoding="utf-8") for path in paths]


def run_worker(opts: argparse.Namespace) -> None:
    name = opts.worker
    if name in OURS:
        result = worker_ours(name, opts)
    elif name == "transformers":
        result = worker_transformers(opts)
    else:
        result = worker_llamacpp(opts)
    result["peak_rss_gb"] = peak_rss_gb()
    print(json.dumps(result))


# --- the parent: spawn workers, print the table and the ratios --------------------------


def available(name: str, opts: argparse.Namespace) -> bool:
    if name in OURS:
        return importlib.util.find_spec("marshalike_runtime") is not None
    if name == "transformers":
        return bool(opts.reference_python) or importlib.util.find_spec("transformers") is not None
    return bool(opts.reference_python) or importlib.util.find_spec("llama_cpp") is not None


def spawn(name: str, opts: argparse.Namespace) -> dict[str, Any]:
    python = (
        opts.reference_python
        if name in ("transformers", "llamacpp") and opts.reference_python
        else sys.executable
    )
    forwarded = [
        "--model",
        str(opts.model),
        "--prompt-tokens",
        str(opts.prompt_tokens),
        "--new-tokens",
        str(opts.new_tokens),
        "--batch",
        str(opts.batch),
        "--repeats",
        str(opts.repeats),
        "--agreement-prompts",
        str(opts.agreement_prompts),
        "--agreement-specs",
        str(opts.agreement_specs),
    ]
    if opts.device:
        forwarded += ["--device", opts.device]
    if opts.random_config:
        forwarded += ["--random-config", opts.random_config]
    cmd = [python, str(Path(__file__).resolve()), "--worker", name, *forwarded]
    print(f"running {name} ...", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=opts.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {opts.timeout} s (--timeout)"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One engine's figures over several rounds: the median of each number, the first
    round's token lists, and the decode rates of every round (for their range). A round
    that failed makes the whole result that failure."""
    if failed := next((r for r in rounds if "error" in r), None):
        return failed
    merged = dict(rounds[0])
    for key, value in rounds[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [r[key] for r in rounds if r.get(key) is not None]
            merged[key] = statistics.median(values) if values else None
    for key in ("decode_tok_s", "batch_decode_tok_s"):
        merged[f"{key}_rounds"] = [r.get(key) for r in rounds]
    return merged


def run_rounds(names: list[str], opts: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every engine once per round, in alternating order, merged by `merge_rounds`."""
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for index in range(opts.rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            result = spawn(name, opts)
            rounds[name].append(result)
            # Raw figures as each engine finishes, so a long run that is cut short keeps them.
            print(f"{name} (round {index + 1}): {json.dumps(result)}", file=sys.stderr, flush=True)
    return {name: merge_rounds(runs) for name, runs in rounds.items()}


def agreement(results: dict[str, dict[str, Any]], name: str) -> str:
    """'short/specs' counts of prompts whose greedy tokens equal ours-fp32's, e.g. 12/12 37/40."""
    base, mine = results.get("ours-fp32", {}), results[name]
    counts = []
    for key in ("agreement_ids", "agreement_spec_ids"):
        if name == "ours-fp32" or key not in base or key not in mine or not mine[key]:
            continue
        pairs = list(zip(base[key], mine[key], strict=True))
        counts.append(f"{sum(a == b for a, b in pairs)}/{len(pairs)}")
    return " ".join(counts)


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(results: dict[str, dict[str, Any]], opts: argparse.Namespace) -> None:
    first = next((r["first_tokens"] for r in results.values() if "first_tokens" in r), None)
    header = (
        f"{'engine':<16}{'load s':>8}{'prefill t/s':>13}{'decode t/s':>12}"
        f"{f'batch-{opts.batch} t/s':>14}{'peak RSS GB':>13}{'same first':>12}"
        f"{'fp32 agree':>14}{'threads':>9}"
    )
    print(header)
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<16}failed: {r['error']}")
            continue
        same = "yes" if r.get("first_tokens") == first else "no"
        print(
            f"{name:<16}{fmt(r['load_s'], 2):>8}{fmt(r['prefill_tok_s'], 0):>13}"
            f"{fmt(r['decode_tok_s']):>12}{fmt(r.get('batch_decode_tok_s')):>14}"
            f"{fmt(r['peak_rss_gb'], 2):>13}{same:>12}{agreement(results, name):>14}"
            f"{fmt(r.get('threads'), 0):>9}"
        )
    print(
        f"\nprompt {opts.prompt_tokens} tokens, {opts.new_tokens} new tokens greedy, "
        f"medians of {opts.repeats} after a warm-up"
        + (f", then of {opts.rounds} rounds" if opts.rounds > 1 else "")
        + f"; 'same first': first {FIRST_TOKENS} "
        f"greedy tokens equal the first engine's; 'fp32 agree': prompts whose first "
        f"{AGREEMENT_TOKENS} greedy tokens equal ours-fp32's, short ones then spec ones "
        f"(first {SPEC_PROMPT_TOKENS} tokens of a spec)"
    )
    if opts.rounds > 1:
        for name, r in results.items():
            if "error" not in r:
                print(f"{name} decode by round: {_rates(r, 'decode_tok_s')}; "
                      f"batch: {_rates(r, 'batch_decode_tok_s')}")  # fmt: skip


def _rates(result: dict[str, Any], key: str) -> str:
    return ", ".join(fmt(v) for v in result.get(f"{key}_rounds", []))


def print_ratios(results: dict[str, dict[str, Any]]) -> None:
    keys = [
        ("load_s", "load"),
        ("prefill_tok_s", "prefill"),
        ("decode_tok_s", "decode"),
        ("batch_decode_tok_s", "batch"),
        ("peak_rss_gb", "RSS"),
    ]
    ours = [n for n in results if n in OURS and "error" not in results[n]]
    theirs = [n for n in results if n not in OURS and "error" not in results[n]]
    if not ours or not theirs:
        return
    print("\nratios ours/theirs (speed: >1 is faster; load and RSS: <1 is better)")
    for mine in ours:
        for other in theirs:
            parts = []
            for key, label in keys:
                a, b = results[mine].get(key), results[other].get(key)
                if a is not None and b:
                    parts.append(f"{label} {a / b:.2f}")
            print(f"  {mine} / {other}: " + ", ".join(parts))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a GGUF file (default: the embedded model)")
    parser.add_argument(
        "--engines",
        default=",".join(ALL_ENGINES),
        help=f"comma-separated, from {','.join(ALL_ENGINES)}",
    )
    parser.add_argument(
        "--reference-python",
        "--transformers-python",
        help="interpreter that has transformers and/or llama-cpp-python",
    )
    parser.add_argument("--device", help="our runtime's device (default: cuda if present)")
    parser.add_argument(
        "--random-config",
        help="our runtime only: random weights of this config (e.g. gemma3-270m); speed only",
    )
    parser.add_argument("--prompt-tokens", type=int, default=207)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--rounds", type=int, default=1, help="run every engine N times, alternating order"
    )
    parser.add_argument("--agreement-prompts", type=int, default=len(AGREEMENT_PROMPTS))
    parser.add_argument(
        "--agreement-specs", type=int, default=40, help="specs of benchmarks/specs as prompts"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per engine")
    parser.add_argument(
        "--quick", action="store_true", help="1 repeat, 32 new tokens, 2 + 2 agreement prompts"
    )
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.repeats, opts.new_tokens, opts.agreement_prompts, opts.agreement_specs = 1, 32, 2, 2
    if opts.rounds < 1 or opts.repeats < 1:
        parser.error("--rounds and --repeats must be at least 1")
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.model is None and not opts.random_config:
        from marshalike_runtime.embedded import default_model_path

        opts.model = str(default_model_path(progress=True))
    if opts.worker:
        run_worker(opts)
        return 0
    names = [n.strip() for n in opts.engines.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_ENGINES]
    if unknown:
        print(f"runtime_bench: error: unknown engines {unknown}", file=sys.stderr)
        return 2
    for name in [n for n in names if not available(n, opts)]:
        print(f"skipping {name}: not importable", file=sys.stderr)
    results = run_rounds([n for n in names if available(n, opts)], opts)
    print_table(results, opts)
    print_ratios(results)
    if opts.json:
        Path(opts.json).write_text(json.dumps(results, indent=1))
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
