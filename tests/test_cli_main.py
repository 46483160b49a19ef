import re

from click.testing import CliRunner

from marshalike.cli.main import cli


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == "marshalike, version 0.1.0\n"


def test_an_unexpected_error_is_one_line_not_a_traceback(monkeypatch) -> None:
    import marshalike.cli.parse_cmd as parse_cmd

    def broken(paths):  # a stand-in for a bug deep inside a command
        raise RuntimeError("boom")

    monkeypatch.setattr(parse_cmd, "load_paths", broken)
    monkeypatch.delenv("MARSHALIKE_DEBUG", raising=False)
    result = CliRunner().invoke(cli, ["parse", "x.mrsh"])
    assert result.exit_code == 70
    assert result.stderr == (
        "marshalike: internal error: RuntimeError: boom (rerun with MARSHALIKE_DEBUG=1 for the "
        "traceback, and please report it)\n"
    )


def test_dash_h_is_help_and_every_choice_option_says_what_it_is() -> None:
    from click.testing import CliRunner

    from marshalike.cli.main import cli

    for args in (["-h"], ["compile", "-h"], ["check", "-h"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and result.stdout.startswith("Usage:"), args
    helped = CliRunner().invoke(cli, ["compile", "--help"]).stdout
    blocks = re.split(r"\n(?=  -)", helped)  # one block per option, with its help text
    for option in ("--backend", "--api", "--format"):
        block = next(b for b in blocks if b.strip().startswith(option))
        assert len(block.split()) > 4, block


def test_ctrl_c_at_a_prompt_is_an_interruption_with_status_130(monkeypatch) -> None:
    import click
    from click.testing import CliRunner

    from marshalike.cli import main

    @click.command()
    def asks() -> None:
        raise click.Abort()  # what click.prompt raises on Ctrl-C

    monkeypatch.setattr(main.LazyGroup, "get_command", lambda self, ctx, name: asks)
    result = CliRunner().invoke(main.cli, ["clarify"])
    assert result.exit_code == 130
    assert result.stderr == "marshalike: interrupted\n"
