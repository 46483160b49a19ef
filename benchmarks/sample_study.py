"""Which loop settings pay? One pool of samples per task, and the loop replayed on it.

`quality.py` measures one run of the loop per seed; with about a dozen compiled tasks a seed,
one task more or less moves the false-success rate by 8 points, so comparing settings by
whole runs needs many seeds. This script measures the distribution instead:

draw    For every single-function task of a corpus, sample N candidates from the first
        prompt (8 a call, seeds seed, seed + 1, ... as attempts have), judge each as the
        loop does (the examples, the probe gate) and run the hidden tests on every distinct
        code that passes. The pool goes to JSON.
replay  For each policy (candidates per attempt x attempts, and how a passing candidate is
        chosen), run the loop many times on each task with candidates drawn from its pool
        (with replacement) and print the expected compiled, solved and false-success counts
        summed over the tasks, and the samples each policy spends.

The replay is faithful to the loop only where every attempt samples the same prompt at the
same temperature: fresh samples (no repairs, the default for completion prompts, so for the
embedded model), no temperature step, no held-back example. Specs with several functions or
`# use`s are left out (a unit's prompt there depends on what its dependencies compiled to).

    cd benchmarks
    python sample_study.py draw --corpus both --samples 32 --seed 0 --json pool.json
    python sample_study.py replay pool.json --policy 4x3:shortest --policy 8x3:shortest
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from quality import (
    HERE,
    TIERS,
    Task,
    humaneval_tasks,
    make_job,
    run_pytest,
    select,
    team_tasks,
)

from marshalike.backends.base import Backend
from marshalike.build.output import write_atomic
from marshalike.codegen import emit
from marshalike.errors import MarshalikeError
from marshalike.language.load import load_spec
from marshalike.language.spec import Module
from marshalike.sandbox.isolation import Limits
from marshalike.settings import resolve
from marshalike.synth import loop, prompts
from marshalike.synth.prompts import UnitContext

RANKS = ("shortest", "first", "plurality")
DEFAULT_POLICIES = ("4x3:shortest", "4x3:first", "8x3:shortest", "8x2:shortest", "12x1:shortest")


# --- draw ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A single-function task's spec, set up as the loop judges its candidates."""

    module: Module
    ctx: UnitContext
    harness: loop.Harness


def unit_for(spec: Path, settings: loop.LoopSettings) -> Unit | str:
    """The spec's only function with its tests and probes, or why the study leaves it out."""
    loaded = load_spec(spec)
    module = loaded.module
    if module is None or loaded.has_errors:
        return "the spec has errors"
    if len(module.funcs) != 1 or module.uses:
        return "more than one function or a # use"
    func = module.funcs[0]
    ctx = UnitContext(module=module, func=func, dependencies={})
    spec_hash = emit.spec_hash(func.text)

    def module_for(code: str) -> str:
        return emit.module_source(
            module, {func.name: code}, spec_name=spec.name, spec_hash=spec_hash
        )

    harness = loop.make_harness(ctx, settings, module_for=module_for, module_name=module.name)
    if not harness.names:
        return "no checkable example"
    return Unit(module, ctx, harness)


def draw_task(
    task: Task,
    backend: Backend,
    settings: loop.LoopSettings,
    samples: int,
    limits: Limits,
    batch_size: int = 8,
) -> dict[str, Any] | str:
    """The task's pool, or why it is left out. Samples are drawn `batch_size` a call, as
    attempts draw them (seed, seed + 1, ...); a call of more than 16 would also decode
    slowly in the runtime's int4 mode, whose C kernels take up to 16 rows a step (more go
    the prompt's way, dequantizing every weight each step)."""
    drawing = replace(settings, candidates=batch_size, attempts=1, quick=False)
    unit = unit_for(task.spec, drawing)
    if isinstance(unit, str):
        return unit
    ctx, harness, module = unit.ctx, unit.harness, unit.module
    shown = loop.shown_context(ctx, harness.held_example)
    prompt = prompts.first_prompt(shown, drawing.kind)
    start = time.monotonic()
    completions = []
    for call in range(-(-samples // batch_size)):
        n = min(batch_size, samples - call * batch_size)
        completions += loop.sample(backend, prompt, replace(drawing, candidates=n), call + 1)
    generated = time.monotonic() - start
    batch = loop.judge(ctx, shown, completions, drawing, loop.Tally(), harness)
    judged = time.monotonic() - start - generated
    hidden = task.hidden.read_text(encoding="utf-8")
    right: dict[str, bool] = {}  # each distinct passing code's hidden verdict
    pool = []
    for cand in batch:
        code = cand.code if loop.passes(cand) else None
        entry = {"passes": code is not None, "size": loop.size(cand.code), "code": code}
        if code is not None:
            if code not in right:
                source = harness.module_for(code)
                status = run_pytest(module.name, source, task.hidden.name, hidden, limits)
                right[code] = status == 0
            entry["hidden"] = right[code]
        pool.append(entry | {"completion_tokens": cand.completion.completion_tokens})
    return {
        "task": task.name,
        "tier": task.tier,
        "spec": str(task.spec),
        "prompt_tokens": sum(c.prompt_tokens for c in completions),
        "generate_s": round(generated, 2),
        "judge_s": round(judged, 2),
        "samples": pool,
    }


def draw(args: argparse.Namespace) -> int:
    tasks = select(args)
    flags = {"seed": args.seed, "quant": args.quant, "max_tokens": args.max_tokens}
    job = make_job(resolve(flags))
    if job.loop.repair or job.loop.temperature_step or job.loop.holdout:
        raise MarshalikeError("the replay needs fresh samples at one temperature, no holdout")
    backend = job.backend_factory()
    limits = Limits(timeout_s=args.test_timeout)
    header = {
        "model": job.model_id,
        "seed": args.seed,
        "samples": args.samples,
        "batch": args.batch,
        "loop": {
            "temperature": job.loop.temperature,
            "max_tokens": job.loop.max_tokens,
            "probe": job.loop.probe,
            "kind": job.loop.kind,
        },
    }
    pools: list[dict[str, Any]] = []
    left_out: dict[str, str] = {}
    for task in tasks:
        result = draw_task(task, backend, job.loop, args.samples, limits, args.batch)
        if isinstance(result, str):
            left_out[task.name] = result
            _stderr(f"{task.name}: left out ({result})")
        else:
            pools.append(result)
            passing = [s for s in result["samples"] if s["passes"]]
            right = sum(1 for s in passing if s["hidden"])
            _stderr(
                f"{task.name}: {len(passing)}/{args.samples} pass the examples, {right} of "
                f"them the hidden tests ({result['generate_s']} s + {result['judge_s']} s)"
            )
        # After every task, atomically: a long draw stopped midway keeps what it drew.
        data = header | {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "left_out": left_out,
            "tasks": pools,
        }
        write_atomic(args.json, json.dumps(data, indent=1) + "\n")
    return 0


# --- replay --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    candidates: int
    attempts: int
    rank: str

    @classmethod
    def parse(cls, text: str) -> Policy:
        """`4x3:shortest`: 4 candidates an attempt, 3 attempts, the shortest passing one."""
        shape, _, rank = text.partition(":")
        n, _, a = shape.partition("x")
        try:
            policy = cls(int(n), int(a), rank or "shortest")
        except ValueError:
            message = f"not a policy: {text!r} (e.g. 4x3:shortest)"
            raise argparse.ArgumentTypeError(message) from None
        if policy.candidates < 1 or policy.attempts < 1 or policy.rank not in RANKS:
            raise argparse.ArgumentTypeError(f"not a policy: {text!r} (ranks: {RANKS})")
        return policy

    def __str__(self) -> str:
        return f"{self.candidates}x{self.attempts}:{self.rank}"


@dataclass(frozen=True)
class Expected:
    """Expected outcomes of one policy on one task (or their sums over tasks)."""

    compiled: float = 0.0
    solved: float = 0.0
    samples: float = 0.0

    @property
    def false_success(self) -> float:
        return self.compiled - self.solved

    def __add__(self, other: Expected) -> Expected:
        return Expected(
            self.compiled + other.compiled,
            self.solved + other.solved,
            self.samples + other.samples,
        )


Sample = dict[str, Any]


def choose(passing: Sequence[Sample], rank: str) -> Sample:
    """The passing sample the loop keeps: `shortest` as `loop._best` (fewest syntax nodes,
    the earliest of equals), `first` the earliest, `plurality` the code drawn most often
    (the shortest of equally frequent ones)."""
    if rank == "first":
        return passing[0]
    if rank == "plurality":
        counts = Counter(s["code"] for s in passing)
        return min(passing, key=lambda s: (-counts[s["code"]], s["size"]))
    return min(passing, key=lambda s: s["size"])


def replay_task(
    samples: Sequence[Sample], policy: Policy, rounds: int, rng: random.Random
) -> Expected:
    """The loop with early stop, `rounds` times, candidates drawn from `samples`."""
    compiled = solved = spent = 0
    for _ in range(rounds):
        for _attempt in range(policy.attempts):
            batch = rng.choices(samples, k=policy.candidates)
            spent += policy.candidates
            passing = [s for s in batch if s["passes"]]
            if passing:
                compiled += 1
                solved += choose(passing, policy.rank)["hidden"]
                break
    return Expected(compiled / rounds, solved / rounds, spent / rounds)


def replay(
    pools: Sequence[dict[str, Any]],
    policies: Sequence[Policy],
    rounds: int,
    seed: int,
) -> dict[str, dict[str, Expected]]:
    """Each policy's expected outcome on each task, with one random stream per policy."""
    out: dict[str, dict[str, Expected]] = {}
    for policy in policies:
        rng = random.Random(seed)
        out[str(policy)] = {
            p["task"]: replay_task(p["samples"], policy, rounds, rng) for p in pools
        }
    return out


def table(results: dict[str, dict[str, Expected]]) -> str:
    lines = [
        "| policy | tasks | compiled | solved | false success | of compiled | samples a task |",
        "|---|---|---|---|---|---|---|",
    ]
    for policy, per_task in results.items():
        total = sum(per_task.values(), Expected())
        share = total.false_success / total.compiled if total.compiled else 0.0
        lines.append(
            f"| {policy} | {len(per_task)} | {total.compiled:.2f} | {total.solved:.2f} | "
            f"{total.false_success:.2f} | {share:.0%} | {total.samples / len(per_task):.1f} |"
        )
    return "\n".join(lines) + "\n"


def false_prone(results: dict[str, dict[str, Expected]], floor: float = 0.05) -> str:
    """The tasks where some policy delivers wrong code at least `floor` of the time."""
    names = sorted(
        {
            name
            for per_task in results.values()
            for name, expected in per_task.items()
            if expected.false_success >= floor
        }
    )
    if not names:
        return ""
    head = "| task | " + " | ".join(results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    for name in names:
        cells = [
            f"{per_task[name].solved:.2f} / {per_task[name].false_success:.2f}"
            for per_task in results.values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def regate(
    pools: Sequence[dict[str, Any]], specs: dict[str, Path], settings: loop.LoopSettings
) -> list[str]:
    """Judge every passing sample by today's probe gate again (`loop.gate_reason`: its
    static checks, and its probes run in the sandbox), since a pool keeps its code: a change
    to the gate is measured without drawing anew. The samples it rejects are marked as not
    passing in `pools`; returns a line for each distinct code it now rejects."""
    lines = []
    for pool in pools:
        unit = unit_for(specs[pool["task"]], settings)
        if isinstance(unit, str):
            raise MarshalikeError(f"{specs[pool['task']]}: no longer in the study: {unit}")
        verdicts: dict[str, str | None] = {}
        for sample in pool["samples"]:
            code = sample["code"]
            if not sample["passes"] or code is None:
                continue
            if code not in verdicts:
                why = loop.gate_reason(code, unit.ctx.func, settings, unit.harness)
                verdicts[code] = why
                if why:
                    right = "right" if sample["hidden"] else "wrong"
                    lines.append(f"{pool['task']}: a {right} sample rejected: {why}")
            if verdicts[code]:
                sample["passes"] = False
    return lines


def spec_paths(pools: Sequence[dict[str, Any]], humaneval_dir: Path) -> dict[str, Path]:
    """Each pool's spec: as recorded, else found by task name in the corpora."""
    known = {t.name: t.spec for t in team_tasks(TIERS)}
    if any("spec" not in p and p["tier"] == "humaneval" for p in pools):
        known |= {t.name: t.spec for t in humaneval_tasks(humaneval_dir)}
    return {p["task"]: Path(p["spec"]) if "spec" in p else known[p["task"]] for p in pools}


def merge(files: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One pool a task from several draws (their samples joined, in file order). Draws
    whose calls share a seed would repeat samples, so they are refused."""
    calls: dict[int, str] = {}
    for name, data in files:
        batch = data.get("batch", 8)
        for seed in range(data["seed"], data["seed"] + -(-data["samples"] // batch)):
            if seed in calls:
                raise MarshalikeError(
                    f"{calls[seed]} and {name} both drew with seed {seed}: their samples "
                    "repeat each other (draw with seeds further apart)"
                )
            calls[seed] = name
    pools: dict[str, dict[str, Any]] = {}
    for _name, data in files:
        for pool in data["tasks"]:
            if pool["task"] in pools:
                joined = pools[pool["task"]]
                joined["samples"] = joined["samples"] + pool["samples"]
            else:
                pools[pool["task"]] = dict(pool)
    return list(pools.values())


def replay_cmd(args: argparse.Namespace) -> int:
    files = [(str(p), json.loads(p.read_text(encoding="utf-8"))) for p in args.pools]
    pools = merge(files)
    if args.tier:
        pools = [p for p in pools if p["tier"] in args.tier]
    if args.regate:
        # The probe inputs depend on the seed: the first draw's, as its attempts had them.
        settings = make_job(resolve({"seed": files[0][1]["seed"]})).loop
        settings = replace(settings, limits=Limits(timeout_s=args.test_timeout))
        for line in regate(pools, spec_paths(pools, args.humaneval_dir), settings):
            print(line)
    policies = args.policy or [Policy.parse(p) for p in DEFAULT_POLICIES]
    results = replay(pools, policies, args.rounds, args.seed)
    print(f"{len(pools)} task pools from {', '.join(name for name, _ in files)}; "
          f"{args.rounds} replays a task and policy")  # fmt: skip
    print(table(results))
    print("solved / false success, expected, where some policy is wrong 5% of the time or more:")
    print(false_prone(results), end="")
    return 0


# --- command line --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("draw", help="sample and judge a pool per task")
    d.add_argument("--corpus", choices=("team", "humaneval", "both"), default="team")
    d.add_argument("--tier", choices=TIERS, action="append")
    d.add_argument("--limit", type=int)
    d.add_argument("--humaneval-dir", type=Path, default=HERE / ".humaneval")
    d.add_argument("--samples", type=int, default=32)
    d.add_argument("--batch", type=int, default=8, help="samples a model call [8]")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quant")
    d.add_argument("--max-tokens", type=int)
    d.add_argument("--test-timeout", type=float, default=20.0)
    d.add_argument("--json", type=Path, required=True)
    r = sub.add_parser("replay", help="expected outcomes of loop policies on saved pools")
    r.add_argument("pools", type=Path, nargs="+")
    r.add_argument("--policy", type=Policy.parse, action="append", help="e.g. 8x3:shortest")
    r.add_argument("--tier", action="append", help="only these tiers ('humaneval' too)")
    r.add_argument(
        "--regate",
        action="store_true",
        help="judge the pools' passing code by the current probe gate again",
    )
    r.add_argument("--test-timeout", type=float, default=20.0)
    r.add_argument("--humaneval-dir", type=Path, default=HERE / ".humaneval")
    r.add_argument("--rounds", type=int, default=2000)
    r.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return draw(args) if args.command == "draw" else replay_cmd(args)
    except MarshalikeError as exc:
        print(f"marshalike: error: {exc}", file=sys.stderr)
        return 1


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
