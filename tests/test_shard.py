"""`--shard K/N`: specs joined by `# use` stay together, the shards cover every spec once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_openai import FakeOpenAI
from test_compile import APP, LIB

from marshalike.build.shard import MOST_SHARDS, ShardError, parse_shard, shard
from marshalike.cli.main import cli
from marshalike.language.graph import SpecGraph


def spec(folder: Path, name: str, text: str | None = None) -> Path:
    path = folder / f"{name}.mrsh"
    body = f"# func {name}(an integer): an integer\n\nThe number.\n\n* {name}(1) = 1\n"
    path.write_text(text or body, encoding="utf-8")
    return path


def test_k_of_n_is_parsed_and_anything_else_is_a_usage_error() -> None:
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "1", "a/b", "1/0", "-1/2", ""):
        with pytest.raises(ShardError, match="--shard"):
            parse_shard(bad)


def test_more_shards_than_anyone_runs_is_a_usage_error_not_a_crash() -> None:
    assert parse_shard(f"{MOST_SHARDS}/{MOST_SHARDS}") == (MOST_SHARDS, MOST_SHARDS)
    for bad in ("1/99999999999999999999", "1/9999999999", "1/300000000", "1/" + "9" * 5000,
                f"1/{MOST_SHARDS + 1}"):  # fmt: skip
        with pytest.raises(ShardError, match=f"N must be at most {MOST_SHARDS}") as caught:
            parse_shard(bad)
        assert "\n" not in str(caught.value) and len(str(caught.value)) < 120


def test_the_deal_does_not_grow_with_the_number_of_shards(tmp_path: Path) -> None:
    paths = [spec(tmp_path, n) for n in ("one", "two", "three")]
    # instantly: no list of N shards, each spec alone in one of the first three
    dealt = [shard(paths, k, 10**12, SpecGraph()) for k in (1, 2, 3)]
    assert sorted(p for one in dealt for p in one) == sorted(paths)
    assert dealt == [shard(paths, k, 3, SpecGraph()) for k in (1, 2, 3)]
    assert shard(paths, 10**12, 10**12, SpecGraph()) == []
    result = CliRunner().invoke(cli, ["check", str(paths[0]), "--shard", "1/9999999999"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"marshalike: error: --shard 1/9999999999: N must be at most {MOST_SHARDS}\n"
    )


def test_shards_cover_every_spec_once_and_keep_uses_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    paths = [spec(tmp_path, n) for n in ("one", "two", "three", "four")]
    paths += [spec(tmp_path, "lib", LIB), spec(tmp_path, "app", APP)]
    for count in (1, 2, 3, 4, 7):
        shards = [shard(paths, k, count, SpecGraph()) for k in range(1, count + 1)]
        assert sorted(p for s in shards for p in s) == sorted(paths)  # each once
        together = [s for s in shards if tmp_path / "app.mrsh" in s]
        assert len(together) == 1 and tmp_path / "lib.mrsh" in together[0]
        sizes = [len(s) for s in shards]
        assert max(sizes) - min(sizes) <= 2  # the pair is the one thing dealt whole
    # the same deal whatever the order the specs are given in
    first = shard(paths, 1, 3, SpecGraph())
    assert set(shard(list(reversed(paths)), 1, 3, SpecGraph())) == set(first)
    assert shard(paths, 1, 3, SpecGraph()) == [p for p in paths if p in first]  # order kept


def test_compile_and_check_take_only_their_shard(tmp_path: Path) -> None:
    names = ("one", "two", "three")
    for name in names:
        spec(tmp_path, name)
    answer = {n: f"```python\ndef {n}(x):\n    return x\n```" for n in names}

    def script(request) -> str:
        text = request.body["messages"][-1]["content"]
        return next(a for n, a in answer.items() if f"`{n}`" in text)

    with FakeOpenAI(script=script) as server:
        argv = ["compile", str(tmp_path), "--backend", "openai", "--base-url", server.base_url,
                "--model", "m", "--questions", "0", "--format", "json", "-q"]  # fmt: skip
        first = CliRunner().invoke(cli, [*argv, "--shard", "1/2"])
        second = CliRunner().invoke(cli, [*argv, "--shard", "2/2"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    done = [Path(r["path"]).stem for out in (first, second) for r in json.loads(out.stdout)]
    assert sorted(done) == sorted(names)
    assert len(json.loads(first.stdout)) == 2  # three singles: 2 + 1
    check = CliRunner().invoke(cli, ["check", str(tmp_path), "--shard", "2/2"])
    assert check.exit_code == 0, check.output
    assert check.stdout.endswith("1 spec checked, 0 failed\n")
    bad = CliRunner().invoke(cli, ["check", str(tmp_path), "--shard", "3/2"])
    assert bad.exit_code == 2
    assert bad.stderr == "marshalike: error: --shard 3/2: K must be between 1 and N\n"
