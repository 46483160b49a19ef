"""A candidate caught repeating a block of lines ends there (`loops`), solo and batched."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_engine import CharTokenizer, tiny_engine  # noqa: E402

from marshalike_runtime import batcher as batcher_module  # noqa: E402
from marshalike_runtime import engine as engine_module  # noqa: E402
from marshalike_runtime.engine import SamplingParams, _Candidate  # noqa: E402
from marshalike_runtime.loops import LoopWatch, loop_end  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_line_written_three_times_in_a_row_is_a_loop() -> None:
    text = "    # TODO\n    # TODO\n    # TODO\n    # TO"
    assert loop_end(text, 3) == len("    # TODO\n") * 3
    assert loop_end(text, 4) is None
    assert loop_end(text[: len("    # TODO\n") * 3 - 1], 3) is None  # the third is not whole


def test_a_block_of_lines_repeated_is_a_loop_and_blank_lines_do_not_count() -> None:
    block = "    s = s.split(s[0])\n    s = s[1]\n\n"
    text = block * 3 + "    s = s.spl"
    assert loop_end(text, 3) == len(block * 3) - 1  # the end of the third `s = s[1]` line
    assert loop_end(block * 2, 3) is None


def test_code_that_only_looks_alike_is_not_a_loop() -> None:
    chain = "".join(f"    elif x == {i}:\n        return {i}\n" for i in range(8))
    assert loop_end(chain, 3) is None
    indented = "    x += 1\n        x += 1\n    x += 1\n"  # not the same line: indented otherwise
    assert loop_end(indented, 3) is None
    assert loop_end("a\n" * 10, 0) is None  # not asked for


def test_a_block_longer_than_six_lines_is_not_looked_for() -> None:
    block = "".join(f"    v{i} = {i}\n" for i in range(7))
    assert loop_end(block * 3, 3) is None
    assert loop_end(block[: -len("    v6 = 6\n")] * 3, 3) is not None


def test_lines_already_checked_are_not_checked_again() -> None:
    text = "x\n" * 3
    assert loop_end(text, 3) == 6
    assert loop_end(text, 3, checked=6) is None  # the caller had found it free up to there


def test_a_watch_looks_at_each_line_once_as_the_text_grows() -> None:
    watch = LoopWatch(3)
    assert watch.end("x\nx\n") is None
    assert watch.checked == 4
    assert watch.end("x\nx\nx") is None  # no line completed since
    assert watch.end("x\nx\nx\n") == 6
    assert LoopWatch(0).end("x\n" * 5) is None  # not asked for


def test_loops_must_be_zero_or_at_least_two() -> None:
    assert SamplingParams(loops=0).loops == 0
    assert SamplingParams(loops=2).loops == 2
    for bad in (1, -1):
        with pytest.raises(ValueError, match="loops must be 0"):
            SamplingParams(loops=bad)


def fed(text: str, loops: int, stop: tuple[str, ...] = ()) -> _Candidate:
    cand = _Candidate(lambda ids: bytes(ids).decode(), frozenset({0}), stop, loops)
    for byte in text.encode():
        cand.add(byte, last=False)
        if cand.finish_reason is not None:
            break
    return cand


def test_a_candidate_in_a_loop_ends_as_one_out_of_tokens() -> None:
    cand = fed("    pass\n" * 5, loops=3)
    assert (cand.text, cand.finish_reason) == ("    pass\n" * 3, "length")
    assert len(cand.token_ids) == len("    pass\n" * 3)  # no token decoded after it
    assert fed("    pass\n" * 5, loops=0).finish_reason is None
    # A stop string that comes first still ends it as a stop.
    cand = fed("    pass\n    pass\n#\n    pass\n", loops=3, stop=("\n#",))
    assert (cand.text, cand.finish_reason) == ("    pass\n    pass", "stop")


def scripted(text: str) -> list[int]:
    return [NEWLINE if ch == "\n" else ord(ch) - 33 for ch in text]


NEWLINE = 93  # `~` in the tiny tokenizer, which decodes it as a newline here


class LineTokenizer(CharTokenizer):
    def decode(self, ids: Sequence[int]) -> str:
        return super().decode(ids).replace("~", "\n")


def test_solo_and_batched_decoding_end_a_loop_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model's choices replaced by a script that loops: both paths stop at the third
    copy of the block, with the same tokens, however many tokens were allowed."""
    script = scripted("ab=1\ncd=2\n")

    def sample_script(logits: torch.Tensor, **_: object) -> torch.Tensor:
        step = sample_script.calls  # type: ignore[attr-defined]
        sample_script.calls += 1  # type: ignore[attr-defined]
        return torch.full((logits.shape[0],), script[step % len(script)], dtype=torch.long)

    monkeypatch.setattr(engine_module, "sample", sample_script)
    monkeypatch.setattr(batcher_module, "sample", sample_script)
    engine = tiny_engine(eos=frozenset())
    engine.tokenizer = LineTokenizer()
    prompt = engine.tokenizer.encode("def_f():")
    outcomes = []
    for run in (engine.generate, lambda ids, **kw: engine.submit(ids, **kw).result()):
        sample_script.calls = 0  # type: ignore[attr-defined]
        generations = run(prompt, n=2, max_tokens=40, loops=3)
        outcomes.append([(g.text, g.token_ids, g.finish_reason) for g in generations])
    expected = ("ab=1\ncd=2\n" * 3, script * 3, "length")
    assert outcomes[0] == outcomes[1] == [expected, expected]
