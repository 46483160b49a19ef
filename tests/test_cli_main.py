from click.testing import CliRunner

from marshalike.cli.main import cli


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == "marshalike, version 0.1.0\n"
