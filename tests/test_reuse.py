"""An answer that matches code the model already wrote costs no model call: the lock keeps
the codes that passed, and a recompile after an added example tries them first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI
from test_compile import RIGHT, SQUARE, compile_, spec

from marshalike.language.edit import add_example
from marshalike.language.parse import parse
from marshalike.synth.reuse import refreshed

ODD_AT_ZERO = "```python\ndef square(x):\n    return x * x if x != 0 else 5\n```"
NEVER = "```python\ndef square(x):\n    return 'the model was asked'\n```"


def compiled_with_a_question(tmp_path: Path) -> dict:
    path = spec(tmp_path, SQUARE)
    answers = iter([RIGHT, ODD_AT_ZERO])
    with FakeOpenAI(script=lambda request: next(answers)) as server:
        status, out, err = compile_(tmp_path, server, "--questions", "3", "--format", "json")
    assert status == 0, out + err
    lock = json.loads((tmp_path / "square.lock.json").read_text())["units"]["square"]
    assert "x * x if x != 0 else 5" in lock["alternatives"][0]  # the one not chosen
    assert lock["intent"].startswith("sha256:")
    assert path.exists()
    return lock


def test_an_answer_one_candidate_gave_takes_that_candidate_without_a_model_call(
    tmp_path: Path,
) -> None:
    lock = compiled_with_a_question(tmp_path)
    assert "return x * x\n" in lock["code"]
    path = tmp_path / "square.mrsh"
    path.write_text(add_example(path.read_text(), "square", "square(0)", "5"))
    with FakeOpenAI(script=lambda request: NEVER) as server:
        status, out, err = compile_(tmp_path, server, "--questions", "3", "--format", "json")
        assert server.count == 0
    assert status == 0, out + err
    (unit,) = json.loads(out)[0]["units"]
    assert (unit["status"], unit["attempts"], unit["candidates"]) == ("verified", 0, 0)
    assert unit["note"].startswith("reused code of the last compile")
    module = (tmp_path / "square.py").read_text()
    assert "x * x if x != 0 else 5" in module


def test_an_answer_no_candidate_gave_asks_the_model_again(tmp_path: Path) -> None:
    compiled_with_a_question(tmp_path)
    path = tmp_path / "square.mrsh"
    path.write_text(add_example(path.read_text(), "square", "square(0)", "7"))
    odd = ODD_AT_ZERO.replace("else 5", "else 7")
    with FakeOpenAI(script=lambda request: odd) as server:
        status, out, err = compile_(tmp_path, server, "--format", "json")
        assert server.count >= 1
    assert status == 0, out + err
    assert "else 7" in (tmp_path / "square.py").read_text()


def test_a_changed_description_never_reuses_old_code(tmp_path: Path) -> None:
    compiled_with_a_question(tmp_path)
    path = tmp_path / "square.mrsh"
    text = path.read_text().replace("Multiply the number by itself.", "Square it.")
    path.write_text(add_example(text, "square", "square(0)", "5"))
    with FakeOpenAI(script=lambda request: ODD_AT_ZERO) as server:
        status, out, err = compile_(tmp_path, server, "--format", "json")
        assert server.count >= 1  # another intent: the model is asked
    assert status == 0, out + err


def test_code_from_a_lock_is_judged_like_the_model_s(tmp_path: Path) -> None:
    """An alternative planted in the lock that does not pass the new example, or that is
    refused, is never written."""
    compiled_with_a_question(tmp_path)
    lock_file = tmp_path / "square.lock.json"
    data = json.loads(lock_file.read_text())
    planted = "import os\n\ndef square(x):\n    os.system('true')\n    return x * x if x else 5\n"
    data["units"]["square"]["alternatives"] = [planted]
    data["units"]["square"]["code"] = "def square(x):\n    return x * x\n"
    lock_file.write_text(json.dumps(data))
    path = tmp_path / "square.mrsh"
    path.write_text(add_example(path.read_text(), "square", "square(0)", "5"))
    with FakeOpenAI(script=lambda request: ODD_AT_ZERO) as server:
        status, out, err = compile_(tmp_path, server, "--format", "json")
        assert server.count >= 1  # the planted code was refused; the model was asked
    assert status == 0, out + err
    assert "os.system" not in (tmp_path / "square.py").read_text()


def test_refreshed_swaps_only_the_docstring() -> None:
    module = parse(SQUARE, "square.mrsh").module
    assert module is not None
    func = module.funcs[0]
    code = 'import math\n\n\ndef square(x):\n    """Old text.\n\n    More."""\n    return x * x\n'
    new = refreshed(code, func)
    assert new.startswith('import math\n\n\ndef square(x):\n    """Multiply the number')
    assert ">>> square(-3)" in new and "Old text" not in new
    assert new.endswith("    return x * x\n")
    plain = "def square(x):\n    return x * x\n"
    assert refreshed(plain, func) == plain  # no docstring: nothing to swap
    assert refreshed("def (", func) == "def ("


@pytest.mark.parametrize("other_break", ["\x0c", "\u2028", "\x1c"])
def test_refreshed_counts_lines_as_python_does(other_break: str) -> None:
    """A character `str.splitlines` breaks at but Python does not (a form feed, U+2028),
    before the docstring, leaves the code around the docstring as it was."""
    module = parse(SQUARE, "square.mrsh").module
    assert module is not None
    code = (
        f"import math  # a{other_break}b\n\n\ndef square(x):\n"
        '    """Old text."""\n    return x * x  # kept\n'
    )
    new = refreshed(code, module.funcs[0])
    assert new.startswith(f'import math  # a{other_break}b\n\n\ndef square(x):\n    """Multiply')
    assert "Old text" not in new and new.endswith("    return x * x  # kept\n")
    compile(new, "square.py", "exec")
