"""The runtime benchmark's bookkeeping (its timings run by hand, not in the suite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import runtime_bench

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_rounds_merge_to_medians_and_keep_each_decode_rate() -> None:
    rounds = [
        {"load_s": 1.0, "decode_tok_s": 40.0, "batch_decode_tok_s": 100.0, "first_tokens": [1]},
        {"load_s": 3.0, "decode_tok_s": 55.0, "batch_decode_tok_s": 90.0, "first_tokens": [2]},
        {"load_s": 2.0, "decode_tok_s": 50.0, "batch_decode_tok_s": None, "first_tokens": [3]},
    ]
    merged = runtime_bench.merge_rounds(rounds)
    assert merged["load_s"] == 2.0
    assert merged["decode_tok_s"] == 50.0
    assert merged["batch_decode_tok_s"] == 95.0  # a round without the figure is left out
    assert merged["first_tokens"] == [1]
    assert merged["decode_tok_s_rounds"] == [40.0, 55.0, 50.0]


def test_a_failed_round_is_the_result() -> None:
    rounds = [{"decode_tok_s": 40.0}, {"error": "exit 1: boom"}]
    assert runtime_bench.merge_rounds(rounds) == {"error": "exit 1: boom"}


def test_rounds_alternate_the_order_of_the_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []

    def spawn(name: str, opts: object) -> dict:
        order.append(name)
        return {"decode_tok_s": float(len(order))}

    monkeypatch.setattr(runtime_bench, "spawn", spawn)
    opts = runtime_bench.parse_args(["--rounds", "3"])
    results = runtime_bench.run_rounds(["a", "b"], opts)
    assert order == ["a", "b", "b", "a", "a", "b"]
    assert results["a"]["decode_tok_s_rounds"] == [1.0, 4.0, 5.0]


def test_rounds_must_be_positive() -> None:
    with pytest.raises(SystemExit):
        runtime_bench.parse_args(["--rounds", "0"])


def test_agreement_counts_short_and_spec_prompts_apart() -> None:
    results = {
        "ours-fp32": {"agreement_ids": [[1, 2], [3]], "agreement_spec_ids": [[4], [5], [6]]},
        "ours-int4": {"agreement_ids": [[1, 2], [3]], "agreement_spec_ids": [[4], [9], [6]]},
        "llamacpp": {"first_tokens": [1]},
    }
    assert runtime_bench.agreement(results, "ours-int4") == "2/2 2/3"
    assert runtime_bench.agreement(results, "ours-fp32") == ""
    assert runtime_bench.agreement(results, "llamacpp") == ""
    results["ours-int4"]["agreement_spec_ids"] = []  # --agreement-specs 0
    assert runtime_bench.agreement(results, "ours-int4") == "2/2"


def test_spec_prompts_are_the_corpus_specs_in_path_order() -> None:
    texts = runtime_bench.spec_texts(runtime_bench.parse_args(["--agreement-specs", "3"]))
    every = sorted((BENCHMARKS / "specs").rglob("*.mrsh"))
    assert len(every) >= 40
    assert texts == [path.read_text(encoding="utf-8") for path in every[:3]]
    assert runtime_bench.parse_args(["--quick"]).agreement_specs == 2
