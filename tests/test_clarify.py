"""`marshalike clarify`: the questions a compile left open, answered from a file or at a
terminal, become examples in the spec, and the spec compiles again. The model is the
scripted OpenAI-compatible server of tests/fake_openai.py; its answers are test doubles."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI

from marshalike.build.clarify import (
    Answer,
    ClarifyError,
    Open,
    answer_problem,
    choose,
    with_answers,
)
from marshalike.cli.main import cli
from marshalike.gate.questions import Question, Reply

SQUARE = """\
# func square(an integer): its square

Multiply the number by itself.

* square(2) = 4
* square(-3) = 9
"""
RIGHT = "```python\ndef square(x):\n    return x * x\n```"
ODD_AT_ZERO = "```python\ndef square(x):\n    return x * x if x != 0 else 5\n```"


def model_flags(server: FakeOpenAI) -> list[str]:
    return ["--backend", "openai", "--base-url", server.base_url, "--model", "fake-model",
            "--candidates", "2", "--attempts", "2", "--jobs", "2", "--timeout", "5"]  # fmt: skip


def run(*argv: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(argv), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder: paths are given and shown relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def asked(folder: Path) -> Path:
    """square.mrsh, compiled by two codes that pass its examples and disagree on square(0)."""
    spec = folder / "square.mrsh"
    spec.write_text(SQUARE, encoding="utf-8")
    answers = iter([RIGHT, ODD_AT_ZERO])
    with FakeOpenAI(script=lambda request: next(answers)) as server:
        status, out, err = run("compile", "square.mrsh", *model_flags(server))
    assert status == 0, out + err
    assert "question: `square(0)`: `0` (2 candidates) or `5` (2 candidates)" in out
    return spec


def locked_questions(folder: Path) -> list[object]:
    lock = json.loads((folder / "square.lock.json").read_text(encoding="utf-8"))
    return lock["units"]["square"].get("questions", [])


def test_answers_from_a_file_become_examples_and_the_spec_compiles_again(asked: Path) -> None:
    answers = asked.parent / "answers.json"
    answers.write_text(json.dumps({"./square.mrsh": {"square( 0 )": " 0"}}), encoding="utf-8")
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json",
                               *model_flags(server))  # fmt: skip
        # the spec changed and its function compiled again, from the candidate that had
        # given this answer: no model call
        assert server.count == 0
    assert status == 0, out + err
    assert asked.read_text(encoding="utf-8") == SQUARE + "* square(0) = 0\n"
    assert out.startswith("square.mrsh: ok (square.py, test_square.py)\n")
    tests = (asked.parent / "test_square.py").read_text(encoding="utf-8")
    assert "# square.mrsh:7: square(0) = 0\ndef test_square_3():\n" in tests
    assert locked_questions(asked.parent) == []
    # The same file again: its answer is in the spec already, and nothing is open.
    status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json")
    assert (status, out) == (0, "")
    assert err == "marshalike: no question is open in the specs given; nothing to compile\n"
    assert asked.read_text(encoding="utf-8") == SQUARE + "* square(0) = 0\n"


def test_one_question_answered_two_ways_under_two_names_of_its_spec_is_refused(
    asked: Path,
) -> None:
    answers = asked.parent / "answers.json"
    twice = {"./square.mrsh": {"square(0)": "0"}, "square.mrsh": {"square( 0 )": "5"}}
    answers.write_text(json.dumps(twice), encoding="utf-8")
    status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json")
    assert status == 2, out + err
    assert 'square.mrsh: "square(0)" is answered twice, two ways' in err
    assert asked.read_text(encoding="utf-8") == SQUARE
    # the same answer under both names is one example
    answers.write_text(json.dumps({**twice, "square.mrsh": {"square(0)": "0"}}), "utf-8")
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json",
                               *model_flags(server))  # fmt: skip
    assert status == 0, out + err
    assert asked.read_text(encoding="utf-8") == SQUARE + "* square(0) = 0\n"


def test_at_a_terminal_a_candidates_answer_is_picked_by_number(asked: Path) -> None:
    with FakeOpenAI(script=lambda request: ODD_AT_ZERO) as server:
        argv = [sys.executable, "-m", "marshalike", "clarify", "square.mrsh", *model_flags(server)]
        status, screen = _in_a_terminal(argv, asked.parent, {"choice [1-4, q to stop]": "2"})
    assert status == 0, screen
    assert "square.mrsh: square: the examples leave `square(0)` open" in screen
    assert "  1. 0  (2 candidates)\r\n  2. 5  (2 candidates)\r\n" in screen
    assert "  3. other: a Python expression, or raises NameOfError\r\n" in screen
    assert asked.read_text(encoding="utf-8") == SQUARE + "* square(0) = 5\n"
    assert "square.mrsh: ok (square.py, test_square.py)" in screen
    assert locked_questions(asked.parent) == []


def _in_a_terminal(argv: list[str], cwd: Path, answers: dict[str, str]) -> tuple[int, str]:
    """Run `argv` with a pseudo-terminal as stdin, stdout and stderr, typing the answer to
    each prompt as it appears; its exit status and everything it showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=follower, stdout=follower, stderr=follower,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    os.close(follower)
    screen, typed = b"", 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: the command has ended
                    break
                if not chunk:
                    break
                screen += chunk
            prompts = [p for p in answers if f"{p}: ".encode() in screen]
            if len(prompts) > typed:
                os.write(leader, (answers[prompts[typed]] + "\n").encode())
                typed += 1
        return proc.wait(timeout=30), screen.decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)


def test_without_a_terminal_or_answers_it_says_to_pass_answers(folder: Path) -> None:
    (folder / "square.mrsh").write_text(SQUARE, encoding="utf-8")
    status, out, err = run("clarify", "square.mrsh")
    assert (status, out) == (2, "")
    assert err == (
        "marshalike: error: no terminal to ask the questions at: pass --answers FILE to "
        "answer them from a JSON file (see `marshalike clarify --help`)\n"
    )


def test_an_answer_to_what_nothing_asks_is_refused_before_anything_is_written(
    asked: Path,
) -> None:
    answers = asked.parent / "answers.json"
    given = {"square.mrsh": {"square(0)": "0", "square(7)": "49"}, "nope.mrsh": {}}
    answers.write_text(json.dumps(given), encoding="utf-8")
    status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json")
    assert (status, out) == (2, "")
    assert err == (
        'marshalike: error: answers.json: square.mrsh: "square(7)" is not an open question '
        'of that spec; "nope.mrsh" is not one of the specs given\n'
    )
    assert asked.read_text(encoding="utf-8") == SQUARE


def test_an_answer_that_is_not_an_expression_is_refused(asked: Path) -> None:
    answers = asked.parent / "answers.json"
    answers.write_text(json.dumps({"square.mrsh": {"square(0)": "zero ("}}), encoding="utf-8")
    status, _, err = run("clarify", "square.mrsh", "--answers", "answers.json")
    assert status == 2
    assert err == (
        'marshalike: error: answers.json: square.mrsh: "square(0)": `zero (` is neither a '
        "Python expression nor `raises NameOfError`\n"
    )
    assert asked.read_text(encoding="utf-8") == SQUARE


@pytest.mark.parametrize(
    "answer",
    [
        "0 #\u2028* square(5) = 26",  # a line separator, where editors end a line
        "0 #\u2029* square(5) = 26",
        "0 #\x85* square(5) = 26",
        "0  # \u202e62",  # a bidirectional control that would show another text
    ],
)
def test_an_answer_that_would_not_stay_one_printable_line_is_refused(
    asked: Path, answer: str
) -> None:
    answers = asked.parent / "answers.json"
    answers.write_text(json.dumps({"square.mrsh": {"square(0)": answer}}), encoding="utf-8")
    status, _, err = run("clarify", "square.mrsh", "--answers", "answers.json")
    assert status == 2
    assert err.endswith("an answer is one line of printable characters\n"), err
    assert asked.read_text(encoding="utf-8") == SQUARE


def test_a_spec_never_compiled_or_changed_since_must_be_compiled_first(asked: Path) -> None:
    answers = asked.parent / "answers.json"
    answers.write_text("{}", encoding="utf-8")
    (asked.parent / "cube.mrsh").write_text(SQUARE.replace("square", "cube"), encoding="utf-8")
    asked.write_text(SQUARE + "* square(1) = 1\n", encoding="utf-8")
    status, out, err = run("clarify", ".", "--answers", "answers.json")
    assert (status, out) == (2, "")
    assert err == (
        "marshalike: error: cube.mrsh was never compiled (there is no cube.lock.json); "
        "square.mrsh changed since it was compiled: compile them first\n"
    )


def test_a_typed_answer_is_asked_again_until_it_can_be_an_example(folder: Path) -> None:
    spec = Path("square.mrsh")
    spec.write_text(SQUARE, encoding="utf-8")
    question = Question("square(0)", (Reply("0", 2, "0"), Reply("<object>", 1, None)))
    typed = iter(["5", "x", "2", "zero (", "raises ValueError"])
    shown: list[str] = []
    answer = choose(Open(spec, "square", question), lambda prompt: next(typed), shown.append)
    assert answer == "raises ValueError"
    assert shown == [
        "",
        "square.mrsh: square: the examples leave `square(0)` open; code that passes them answers:",
        "  1. 0  (2 candidates)",
        "     <object>  (1 candidate; cannot be an example)",
        "  2. other: a Python expression, or raises NameOfError",
        "  3. skip: leave it open",
        "  type a number from 1 to 3, or q to stop",
        "  type a number from 1 to 3, or q to stop",
        "  `zero (` is neither a Python expression nor `raises NameOfError`",
    ]


UNCHECKED = """\
# func triple(an integer): an integer

Three times the number.

* triple(2) is six
"""
TRIPLE = "```python\ndef triple(x):\n    return 3 * x\n```"


def test_the_questions_of_a_function_no_example_checks_are_answered_too(folder: Path) -> None:
    """Its compile fails (`unchecked: add examples`), yet the lock keeps what its candidates
    answered on inputs of its declared type, for this text of the spec: clarify asks them."""
    spec = folder / "triple.mrsh"
    spec.write_text(UNCHECKED, encoding="utf-8")
    with FakeOpenAI(script=lambda request: TRIPLE) as server:
        status, out, _ = run("compile", "triple.mrsh", *model_flags(server))
    assert status == 1 and "unchecked: add examples" in out
    assert "question: `triple(3)`: `9` (2 candidates)" in out
    pending = json.loads((folder / "triple.lock.json").read_text())["pending"]
    assert pending["questions"]["triple"][0]["call"] == "triple(3)"
    answers = folder / "answers.json"
    answers.write_text(json.dumps({"triple.mrsh": {"triple(3)": "9"}}), encoding="utf-8")
    with FakeOpenAI(script=lambda request: TRIPLE) as server:
        status, out, err = run("clarify", "triple.mrsh", "--answers", "answers.json",
                               *model_flags(server))  # fmt: skip
    assert status == 0, out + err
    assert spec.read_text(encoding="utf-8") == UNCHECKED + "\n* triple(3) = 9\n"
    assert out.startswith("triple.mrsh: ok (")
    assert "pending" not in json.loads((folder / "triple.lock.json").read_text())
    # Another text of the spec: the pending questions were asked of the old one.
    spec.write_text(UNCHECKED.replace("Three", "3"), encoding="utf-8")
    assert run("clarify", "triple.mrsh", "--answers", "answers.json")[0] == 2


def test_for_an_input_the_code_crashed_on_not_a_valid_input_is_an_answer(tmp_path: Path) -> None:
    from marshalike.build.clarify import Answer, record
    from marshalike.gate.questions import Question, Reply
    from marshalike.language.parse import parse

    text = "# func first(list of integer): integer\n\nThe first.\n\n* first([4, 5]) = 4\n"
    spec = tmp_path / "first.mrsh"
    spec.write_text(text, encoding="utf-8")
    crash = Reply("raises IndexError", 2, "raises IndexError")
    item = Open(spec, "first", Question("first([])", (crash,), "raised IndexError: boom"))
    said: list[str] = []
    chosen = choose(item, lambda prompt: "2", said.append)
    assert "`first([])` raised IndexError: boom; is it a valid input" in said[1]
    assert said[2:5] == [
        "  1. raises IndexError  (2 candidates)",
        "  2. throws an error  (not a valid input)",
        "  3. other: a Python expression, or raises NameOfError",
    ]
    assert chosen == "throws an error"
    record([Answer(spec, "first", "first([])", chosen)])
    assert spec.read_text(encoding="utf-8") == text + "* first([]) = throws an error\n"
    module = parse(spec.read_text(), "first.mrsh").module
    assert module is not None
    (_, added) = module.funcs[0].examples
    assert (added.outcome, added.exception) == ("raises", "Exception")


HALF = """\
# func half(an integer): a decimal

Half the number, exactly.

* half(2) = Decimal('1')
* half(-4) = Decimal('-2')
"""


@pytest.mark.parametrize(
    "value", ["Decimal('0.5')", "Fraction(1, 2)", "Counter({'a': 1})", "[OrderedDict({1: 2})]"]
)
def test_a_value_types_answer_by_its_bare_name_is_offered_and_written(
    tmp_path: Path, value: str
) -> None:
    """Examples build the standard value types by their bare names (their tests import
    them from their modules): the code's answer, so written, is offered, read from a lock
    as from a compile, and one typed is taken."""
    from marshalike.build.clarify import record

    spec = tmp_path / "half.mrsh"
    spec.write_text(HALF, encoding="utf-8")
    replies = [{"shown": value, "support": 2, "expected": value}]
    question = Question.from_json({"call": "half(1)", "replies": replies})
    said: list[str] = []
    chosen = choose(Open(spec, "half", question), lambda prompt: "1", said.append)
    assert (chosen, said[2]) == (value, f"  1. {value}  (2 candidates)")
    typed = iter(["2", value])
    assert choose(Open(spec, "half", question), lambda prompt: next(typed), said.append) == value
    record([Answer(spec, "half", "half(1)", value)])
    assert spec.read_text(encoding="utf-8") == HALF + f"* half(1) = {value}\n"


def test_a_value_types_answer_is_not_offered_where_the_spec_declares_a_type_so_named(
    tmp_path: Path,
) -> None:
    """The code's `Decimal('0.5')` is the standard type's value; in a spec that declares a
    type `Decimal`, an example would read it as that type's record."""
    spec = tmp_path / "half.mrsh"
    spec.write_text("# type Decimal\nvalue\n1\n\n" + HALF, encoding="utf-8")
    replies = [{"shown": "Decimal('0.5')", "support": 2, "expected": "Decimal('0.5')"}]
    question = Question.from_json({"call": "half(1)", "replies": replies})
    said: list[str] = []
    assert choose(Open(spec, "half", question), lambda prompt: "2", said.append) is None
    assert not any("Decimal('0.5')  (2 candidates)" in line for line in said), said


EVIL = (
    "49 if __import__('os').path.isdir('/sandbox') else "
    "len(__import__('pathlib').Path('/tmp/x/PWNED').write_text('x'))*0+49"
)


def test_a_lock_cannot_put_code_into_the_spec_as_an_offered_answer(folder: Path) -> None:
    """A lock is untrusted: a reply or a call in it that is no plain value is never offered,
    and what is offered reads back as the sandbox would have written it."""
    from marshalike.build.clarify import open_questions
    from marshalike.build.lock import Lock, LockedUnit, write_lock
    from marshalike.codegen import emit
    from marshalike.language.graph import SpecGraph

    spec = folder / "square.mrsh"
    spec.write_text(SQUARE, encoding="utf-8")
    unit = LockedUnit(
        key="k", code="def square(x):\n    return x * x\n", status="verified", deps=(),
        backend="openai", model="m", prompt_template="t", sampling={}, attempts=1,
        candidates=2, prompt_tokens=1, completion_tokens=1, seconds=0.1,
    )  # fmt: skip
    lock = Lock(spec="square.mrsh", spec_hash=emit.spec_hash(SQUARE), units={"square": unit})
    write_lock(folder / "square.lock.json", lock)
    data = json.loads((folder / "square.lock.json").read_text(encoding="utf-8"))
    data["units"]["square"]["questions"] = [
        {"call": "square(7)", "replies": [
            {"shown": "49", "support": 2, "expected": EVIL},
            {"shown": "49", "support": 1, "expected": "49"},
        ]},
        {"call": "square(__import__('os').getpid())", "replies": [
            {"shown": "1", "support": 1, "expected": "1"},
        ]},
    ]  # fmt: skip
    (folder / "square.lock.json").write_text(json.dumps(data), encoding="utf-8")
    (item,) = open_questions([Path("square.mrsh")], None, SpecGraph())
    assert item.question.call == "square(7)"
    said: list[str] = []
    chosen = choose(item, lambda prompt: "1", said.append)
    assert chosen == "49"
    assert said[2:4] == ["     49  (2 candidates; cannot be an example)", "  1. 49  (1 candidate)"]
    assert not any("__import__" in line for line in said)


def test_at_a_terminal_the_end_of_input_stops_asking_as_q_does(asked: Path) -> None:
    """Ctrl-D at the prompt is no interruption: nothing is answered, nothing written."""
    argv = [sys.executable, "-m", "marshalike", "clarify", "square.mrsh"]
    status, screen = _in_a_terminal(argv, asked.parent, {"choice [1-4, q to stop]": "\x04"})
    assert "interrupted" not in screen
    assert status == 0, screen
    assert asked.read_text(encoding="utf-8") == SQUARE


def _answered(folder: Path) -> None:
    answers = {"square.mrsh": {"square(0)": "0"}}
    (folder / "answers.json").write_text(json.dumps(answers), encoding="utf-8")


def test_clarify_takes_quiet_and_a_json_report_as_compile_does(asked: Path) -> None:
    _answered(asked.parent)
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json", "-q",
                               "--format", "json", *model_flags(server))  # fmt: skip
    assert status == 0, out + err
    assert err == ""
    (report,) = json.loads(out)
    assert report["path"].endswith("square.mrsh"), report


def test_clarify_takes_no_progress_as_compile_does(asked: Path) -> None:
    _answered(asked.parent)
    with FakeOpenAI(script=lambda request: RIGHT) as server:
        status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json",
                               "--no-progress", *model_flags(server))  # fmt: skip
    assert status == 0, out + err
    assert out.startswith("square.mrsh: ok (square.py, test_square.py)\n")
    assert "square.square: compiling" in err


def test_a_functions_questions_are_asked_while_another_function_fails(folder: Path) -> None:
    """square passes with a question open, cube fails: the compile fails, and clarify still
    asks square's question (the lock holds it for this text), then compiles again."""
    cube = "\n# func cube(an integer): its cube\n\nCube it.\n\n* cube(2) = 8\n"
    (folder / "square.mrsh").write_text(SQUARE + cube, encoding="utf-8")
    wrong_cube = "```python\ndef cube(x):\n    return x * 3\n```"
    squares = iter([RIGHT, ODD_AT_ZERO] * 3)

    def script(request: object) -> str:
        text = json.dumps(getattr(request, "body", {}))
        return wrong_cube if "`cube`" in text else next(squares)

    with FakeOpenAI(script=script) as server:
        status, out, err = run("compile", "square.mrsh", *model_flags(server))
        assert status == 1, out + err
        assert "question: `square(0)`" in out
        answers = folder / "answers.json"
        answers.write_text(json.dumps({"square.mrsh": {"square(0)": "0"}}), encoding="utf-8")
        status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json",
                               *model_flags(server))  # fmt: skip
    assert "changed since it was compiled" not in err
    assert "* square(0) = 0\n" in (folder / "square.mrsh").read_text(encoding="utf-8")


@pytest.mark.parametrize("said", ["true", "null"])
def test_an_answer_in_the_spellings_the_spec_reads_is_written(said: str) -> None:
    """`true` and `null` read as `True` and `None` in a spec: an answer so spelled reads
    back as its example (it was refused as one that does not)."""
    answer = Answer(Path("square.mrsh"), "square", "square(0)", said)
    text = with_answers(SQUARE, [answer])
    assert text == SQUARE + f"* square(0) = {said}\n"


def test_an_answer_of_nan_is_refused_as_one_no_code_could_pass() -> None:
    assert answer_problem("NaN") == (
        "NaN equals no value, so no code could pass an example that expects it"
    )
    assert answer_problem("[1, NaN]") is not None
    assert answer_problem("'NaN'") is None  # a string


def test_an_answer_that_would_give_the_spec_an_error_is_refused_before_it_is_written(
    asked: Path,
) -> None:
    """An answer must leave the spec as free of errors as a compile finds it before any
    model call: one that constructs a type the spec does not declare is refused with the
    error, and the spec stays as it was (it was written, and the compile then failed)."""
    answers = asked.parent / "answers.json"
    answers.write_text(json.dumps({"square.mrsh": {"square(0)": "Pet(1)"}}), encoding="utf-8")
    status, out, err = run("clarify", "square.mrsh", "--answers", "answers.json")
    assert (status, out) == (2, "")
    assert err == (
        "marshalike: error: square.mrsh: square(0): it would give the spec an error: example "
        "constructs undeclared type 'Pet' [M015] (hint: declare it with `# type Pet` and a "
        "CSV header line)\n"
    )
    assert asked.read_text(encoding="utf-8") == SQUARE


def test_a_typed_answer_that_would_give_the_spec_an_error_is_asked_again(folder: Path) -> None:
    spec = Path("square.mrsh")
    spec.write_text(SQUARE, encoding="utf-8")
    question = Question("square(0)", (Reply("0", 2, "0"), Reply("5", 1, "5")))
    typed = iter(["3", "sqaure(1)", "zero", "square", "0"])
    shown: list[str] = []
    answer = choose(Open(spec, "square", question), lambda prompt: next(typed), shown.append)
    assert answer == "0"
    assert (
        "  it would give the spec an error: example calls undeclared function 'sqaure' [M028] "
        "(hint: did you mean 'square'?)"
    ) in shown
    assert (
        "  it would give the spec an error: example reads undeclared name 'zero' [M052] "
        "(hint: write the value)"
    ) in shown
    assert shown[-1] == (
        "  it would give the spec an error: expected value names function 'square' without "
        "calling it [M055] (hint: write the value it should equal, or a call such as "
        "`square(...)`)"
    )
    assert spec.read_text(encoding="utf-8") == SQUARE


PARITY = """\
# func is_even(an integer): a boolean

True for an even number.

* is_even(2) = True
* is_even(7) = False

# func is_odd(an integer): a boolean

The opposite of is_even.

* is_odd(7) = True
* is_odd(2) = False
"""


def test_an_answer_that_would_make_functions_call_each_other_in_a_cycle_is_refused() -> None:
    """The plan's error counts too: is_odd names is_even, so is_even may not name is_odd."""
    answer = Answer(Path("parity.mrsh"), "is_even", "is_even(0)", "not is_odd(0)")
    with pytest.raises(ClarifyError) as refused:
        with_answers(PARITY, [answer])
    assert str(refused.value) == (
        "parity.mrsh: is_even(0): it would give the spec an error: functions refer to each "
        "other in a cycle (is_even -> is_odd -> is_even); their compile order is undefined "
        "[M040] (hint: describe the shared logic in one function, or drop one of the "
        "references)"
    )
    fine = Answer(Path("parity.mrsh"), "is_even", "is_even(0)", "True")
    assert with_answers(PARITY, [fine]) == PARITY.replace(
        "* is_even(7) = False\n", "* is_even(7) = False\n* is_even(0) = True\n"
    )


def test_an_answer_that_raises_what_neither_python_nor_the_spec_knows_is_refused() -> None:
    """A name nothing defines is most likely a slip, and a builtin that is no exception is
    no error an example can expect; an exception Python has is an answer."""
    answer = Answer(Path("square.mrsh"), "square", "square(0)", "raises NotAnError")
    with pytest.raises(ClarifyError) as refused:
        with_answers(SQUARE, [answer])
    assert str(refused.value) == (
        "square.mrsh: square(0): 'NotAnError' is no exception Python has, and no example of "
        "the spec raises it: raise one that is (ValueError, json.JSONDecodeError), or "
        "`throws an error`"
    )
    answer = Answer(Path("square.mrsh"), "square", "square(0)", "raises len")
    with pytest.raises(
        ClarifyError, match="`raises len` does not read back as one example's answer"
    ):
        with_answers(SQUARE, [answer])
    for said in ("raises ValueError", "raises KeyboardInterrupt", "raises json.JSONDecodeError"):
        assert answer_problem(said) is None, said
        answer = Answer(Path("square.mrsh"), "square", "square(0)", said)
        assert f"* square(0) = {said}\n" in with_answers(SQUARE, [answer])


def test_an_answer_may_raise_the_error_of_the_specs_own_that_an_example_raises() -> None:
    """A test checks a spec's own error by its class's name: an answer may name it."""
    spec = (
        "# func withdraw(balance: int, amount: int): int\n\nThe balance after taking amount out."
        "\n\n* withdraw(5, 2) = 3\n* withdraw(1, 2) raises InsufficientFunds\n"
        "* withdraw(2, 2) = 0\n"
    )
    own = Answer(Path("wallet.mrsh"), "withdraw", "withdraw(0, 1)", "raises InsufficientFunds")
    assert "* withdraw(0, 1) = raises InsufficientFunds\n" in with_answers(spec, [own])
    other = Answer(Path("wallet.mrsh"), "withdraw", "withdraw(0, 1)", "raises Overdrawn")
    with pytest.raises(ClarifyError, match="'Overdrawn' is no exception Python has"):
        with_answers(spec, [other])


@pytest.mark.parametrize("said", ["len", "[int, 0]"])
def test_an_answer_that_is_a_builtin_function_or_class_is_refused(said: str) -> None:
    """No answer equals a function or a class: the spec's error M055 says so."""
    answer = Answer(Path("square.mrsh"), "square", "square(0)", said)
    with pytest.raises(ClarifyError) as refused:
        with_answers(SQUARE, [answer])
    name = said.strip("[]").split(",")[0]
    assert str(refused.value) == (
        f"square.mrsh: square(0): it would give the spec an error: expected value names "
        f"built-in '{name}' without calling it [M055] (hint: write the value it should equal, "
        f"or a call such as `{name}(...)`)"
    )
