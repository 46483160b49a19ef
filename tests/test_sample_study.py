"""benchmarks/sample_study.py: drawing a judged pool per task, and replaying loop policies
on pools. No model runs here: the backend below is a test double whose answers are written
in this file, and the pools are made up."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import pytest

from marshalike.backends.base import Completion, Prompt, Sampling
from marshalike.build.compiler import CompileJob
from marshalike.sandbox.isolation import Limits
from marshalike.synth.loop import LoopSettings

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import quality  # noqa: E402
import sample_study  # noqa: E402
from sample_study import Policy  # noqa: E402


def pool(*samples: tuple[bool, int, bool]) -> list[dict]:
    """Samples as (passes the examples, size, passes the hidden tests)."""
    return [
        {"passes": p, "size": size, "hidden": right, "code": f"code{i}" if p else None}
        for i, (p, size, right) in enumerate(samples)
    ]


# --- replay --------------------------------------------------------------------------------


def test_a_pool_where_nothing_passes_spends_every_attempt() -> None:
    expected = sample_study.replay_task(
        pool((False, 5, False)), Policy(4, 3, "shortest"), 50, random.Random(0)
    )
    assert (expected.compiled, expected.solved, expected.samples) == (0, 0, 12)


def test_a_pool_where_everything_passes_stops_after_one_attempt() -> None:
    expected = sample_study.replay_task(
        pool((True, 5, True), (True, 7, True)), Policy(4, 3, "first"), 50, random.Random(0)
    )
    assert (expected.compiled, expected.solved, expected.samples) == (1, 1, 4)


def test_shortest_prefers_the_short_right_sample_and_first_takes_the_draw() -> None:
    # Half the draws are a short right sample, half a long wrong one; both pass the examples.
    samples = pool((True, 5, True), (True, 9, False))
    shortest = sample_study.replay_task(samples, Policy(4, 1, "shortest"), 4000, random.Random(1))
    first = sample_study.replay_task(samples, Policy(4, 1, "first"), 4000, random.Random(1))
    # Shortest is wrong only when all four draws are the long one: 1/16.
    assert shortest.solved == pytest.approx(15 / 16, abs=0.02)
    assert shortest.false_success == pytest.approx(1 / 16, abs=0.02)
    assert first.solved == pytest.approx(0.5, abs=0.03)


def test_more_attempts_compile_more_of_a_rarely_passing_task() -> None:
    samples = pool((True, 5, True), *[(False, 5, False)] * 9)  # one in ten passes
    one = sample_study.replay_task(samples, Policy(4, 1, "shortest"), 4000, random.Random(2))
    three = sample_study.replay_task(samples, Policy(4, 3, "shortest"), 4000, random.Random(2))
    assert one.compiled == pytest.approx(1 - 0.9**4, abs=0.03)
    assert three.compiled == pytest.approx(1 - 0.9**12, abs=0.03)
    assert 4 < three.samples < 12


def test_plurality_takes_the_code_drawn_most_often() -> None:
    passing = [
        {"code": "a", "size": 3, "hidden": False},
        {"code": "b", "size": 9, "hidden": True},
        {"code": "b", "size": 9, "hidden": True},
    ]
    assert sample_study.choose(passing, "plurality")["code"] == "b"
    assert sample_study.choose(passing, "shortest")["code"] == "a"
    assert sample_study.choose(passing, "first")["code"] == "a"


def test_replay_table_sums_expected_outcomes_over_tasks() -> None:
    pools = [
        {"task": "right", "tier": "simple", "samples": pool((True, 5, True))},
        {"task": "wrong", "tier": "simple", "samples": pool((True, 5, False))},
        {"task": "never", "tier": "simple", "samples": pool((False, 5, False))},
    ]
    results = sample_study.replay(pools, [Policy(2, 2, "shortest")], rounds=10, seed=0)
    assert sample_study.table(results) == (
        "| policy | tasks | compiled | solved | false success | of compiled | samples a task |\n"
        "|---|---|---|---|---|---|---|\n"
        "| 2x2:shortest | 3 | 2.00 | 1.00 | 1.00 | 50% | 2.7 |\n"
    )
    assert sample_study.false_prone(results) == (
        "| task | 2x2:shortest |\n|---|---|\n| wrong | 0.00 / 1.00 |\n"
    )


@pytest.mark.parametrize("text", ["4x3:best", "4:shortest", "0x3", "ax3", "4x0:first"])
def test_a_malformed_policy_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a policy"):
        Policy.parse(text)


def test_a_policy_without_a_rank_takes_the_shortest() -> None:
    assert Policy.parse("8x2") == Policy(8, 2, "shortest")
    assert str(Policy.parse("12x1:plurality")) == "12x1:plurality"


# --- draw ----------------------------------------------------------------------------------

SPECS = {
    "double": "# func double(n: integer): integer\n\nTwice n, for negative n too.\n\n"
    "* double(2) = 4\n",
    "pair": "# func one(n: integer): integer\n\nn.\n\n* one(1) = 1\n\n"
    "# func two(n: integer): integer\n\nTwice one(n).\n\n* two(1) = 2\n",
    "vague": "# func vague(n: integer): integer\n\nOne more than n.\n",
}
# The test double's answers, in turn: right; right on the example only (`n + 2`); not
# Python; right again, written otherwise.
DOUBLE = (
    "def double(n):\n    return n * 2\n",
    "def double(n):\n    return n + 2\n",
    "this is not python (\n",
    "def double(n):\n    return n + n\n",
)


class Alternating:
    name = "scripted"
    model = "scripted"

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.calls: list[tuple[int, int | None]] = []  # (n, seed)
        self.drawn = 0

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        self.prompts.append(prompt.text + "".join(c for _, c in prompt.messages))
        self.calls.append((sampling.n, sampling.seed))
        first, self.drawn = self.drawn, self.drawn + sampling.n
        return [
            Completion(f"```python\n{DOUBLE[i % len(DOUBLE)]}```", 8, 4, "stop")
            for i in range(first, self.drawn)
        ]


def tasks(root: Path) -> dict[str, quality.Task]:
    for tier in ("specs", "hidden"):
        (root / tier / "simple").mkdir(parents=True)
    for name, spec in SPECS.items():
        (root / "specs" / "simple" / f"{name}.mrsh").write_text(spec)
        (root / "hidden" / "simple" / f"{name}_hidden.py").write_text(
            f"from {name} import *\n\n\ndef test_negative():\n    assert double(-3) == -6\n"
        )
    found = quality.team_tasks(["simple"], root / "specs", root / "hidden")
    return {t.name: t for t in found}


def test_draw_judges_every_sample_and_runs_hidden_tests_on_passing_code(tmp_path: Path) -> None:
    backend = Alternating()
    settings = LoopSettings(kind="chat", probe=True, jobs=2, repair=False)
    found = tasks(tmp_path)
    result = sample_study.draw_task(found["double"], backend, settings, 8, Limits(timeout_s=10))
    assert isinstance(result, dict)
    samples = result["samples"]
    assert [s["passes"] for s in samples] == [True, True, False, True] * 2
    assert [s.get("hidden") for s in samples] == [True, False, None, True] * 2
    assert result["prompt_tokens"] == 64 and samples[0]["completion_tokens"] == 4
    assert "double(-3)" not in backend.prompts[0]  # the hidden test never reaches a prompt
    assert backend.calls == [(8, 0)]  # eight samples a call


def test_draw_samples_in_batches_with_the_seeds_attempts_have(tmp_path: Path) -> None:
    backend = Alternating()
    settings = LoopSettings(kind="chat", jobs=2, repair=False, seed=5)
    limits = Limits(timeout_s=10)
    result = sample_study.draw_task(tasks(tmp_path)["double"], backend, settings, 7, limits, 3)
    assert isinstance(result, dict)
    assert backend.calls == [(3, 5), (3, 6), (1, 7)]
    passes = [True, True, False, True, True, True, False]  # the answers in turn, twice
    assert [s["passes"] for s in result["samples"]] == passes


def test_draw_leaves_out_what_the_replay_cannot_model(tmp_path: Path) -> None:
    found = tasks(tmp_path)
    settings = LoopSettings(kind="chat", repair=False)
    limits = Limits(timeout_s=10)
    pair = sample_study.draw_task(found["pair"], Alternating(), settings, 2, limits)
    assert pair == "more than one function or a # use"
    vague = sample_study.draw_task(found["vague"], Alternating(), settings, 2, limits)
    assert vague == "no checkable example"


def test_draw_command_writes_the_pools_and_what_it_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = tasks(tmp_path / "corpus")
    monkeypatch.setattr(quality, "team_tasks", lambda tiers: list(found.values()))
    loop = LoopSettings(kind="chat", jobs=2, repair=False)
    job = CompileJob(Alternating, "scripted", "scripted", loop)
    monkeypatch.setattr(sample_study, "make_job", lambda settings: job)
    out = tmp_path / "pool.json"
    assert sample_study.main(["draw", "--samples", "4", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [p["task"] for p in data["tasks"]] == ["double"]
    assert data["left_out"] == {
        "pair": "more than one function or a # use",
        "vague": "no checkable example",
    }
    assert "double: 3/4 pass the examples, 2 of them the hidden tests" in capsys.readouterr().err
    assert sample_study.main(["replay", str(out), "--policy", "4x1", "--rounds", "20"]) == 0
    assert "| 4x1:shortest | 1 |" in capsys.readouterr().out


def test_draw_refuses_settings_the_replay_cannot_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loop = LoopSettings(kind="chat", repair=True)
    monkeypatch.setattr(
        sample_study, "make_job", lambda settings: CompileJob(Alternating, "s", "s", loop)
    )
    args = ["draw", "--json", str(tmp_path / "p.json"), "--limit", "0"]
    assert sample_study.main(args) == 1
    assert "the replay needs fresh samples" in capsys.readouterr().err


def test_regate_judges_passing_code_by_today_s_gate(tmp_path: Path) -> None:
    spec = tmp_path / "words.mrsh"
    spec.write_text(
        "# func words(text: string): integer\n\nHow many words.\n\n"
        "* words('hello') = 1\n* words('a b c') = 3\n"
    )
    fitted = "def words(text):\n    return 1 if text.startswith('hello') else 3\n"
    untyped = "def words(text):\n    return len(text.split()) if text else None\n"
    right = "def words(text):\n    return len(text.split())\n"
    samples = [
        {"passes": True, "code": fitted, "size": 9, "hidden": False},
        {"passes": True, "code": right, "size": 12, "hidden": True},
        {"passes": True, "code": fitted, "size": 9, "hidden": False},
        {"passes": False, "code": None, "size": 3},
        {"passes": True, "code": untyped, "size": 14, "hidden": False},
    ]
    pools = [{"task": "words", "tier": "simple", "spec": str(spec), "samples": samples}]
    settings = LoopSettings(kind="chat", probe=True, limits=Limits(timeout_s=10))
    lines = sample_study.regate(pools, sample_study.spec_paths(pools, tmp_path), settings)
    assert lines == [
        "words: a wrong sample rejected: it special-cases 'hello', an argument of the "
        "examples: `text.startswith('hello')`",
        "words: a wrong sample rejected: words('') returned None, not an int as the spec declares",
    ]
    assert [s["passes"] for s in samples] == [False, True, False, False, False]


def draw_file(seed: int, samples: int, tasks: dict[str, list[dict]]) -> dict:
    return {
        "seed": seed,
        "samples": samples,
        "batch": 8,
        "tasks": [{"task": t, "tier": "simple", "samples": s} for t, s in tasks.items()],
    }


def test_merge_joins_the_samples_of_each_task_across_draws() -> None:
    first = draw_file(0, 16, {"a": pool((True, 3, True)), "b": pool((False, 1, False))})
    second = draw_file(2, 16, {"b": pool((True, 4, False)), "c": pool((True, 5, True))})
    merged = sample_study.merge([("s0.json", first), ("s2.json", second)])
    assert [(p["task"], len(p["samples"])) for p in merged] == [("a", 1), ("b", 2), ("c", 1)]
    assert [s["passes"] for s in merged[1]["samples"]] == [False, True]
    assert len(first["tasks"][1]["samples"]) == 1  # the draws themselves are left as read


def test_merge_refuses_draws_that_share_a_seed() -> None:
    # 32 samples at 8 a call: seeds 0-3; a draw from seed 1 repeats three of its calls.
    first = draw_file(0, 32, {"a": pool((True, 3, True))})
    with pytest.raises(sample_study.MarshalikeError, match="both drew with seed 1"):
        sample_study.merge([("s0.json", first), ("s1.json", draw_file(1, 32, {}))])
    assert len(sample_study.merge([("s0.json", first), ("s4.json", draw_file(4, 32, {}))])) == 1
