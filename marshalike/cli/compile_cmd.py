"""`marshalike compile`: specs in, tested Python out; progress and diagnostics on stderr,
the report on stdout."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from marshalike.backends import make_backend
from marshalike.backends.local import model_id
from marshalike.build import report as render
from marshalike.build.compiler import CompileJob, CompileRun, SpecReport
from marshalike.cli.options import compile_options
from marshalike.errors import ConfigError
from marshalike.language.diagnostics import render_all
from marshalike.language.load import spec_paths
from marshalike.sandbox.isolation import Limits, weaker_isolation
from marshalike.settings import Settings, resolve
from marshalike.synth.loop import LoopSettings, Rank


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@compile_options
@click.option("--frozen", is_flag=True, help="Fail if any unit would need a model call.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
    help="The report on stdout: for people, or JSON for tools. [text]",
)  # fmt: skip
def command(
    paths: tuple[str, ...], quick: bool, frozen: bool, no_main: bool, fmt: str, **flags: object
) -> None:
    """Compile .mrsh specs (files or folders) into tested Python."""
    files = spec_paths(paths)  # missing or unreadable inputs first: exit 2, nothing asked
    if (weaker := weaker_isolation()) is not None:
        click.echo(f"marshalike: warning: the sandbox runs without namespaces ({weaker}); "
                   "see docs/security.md", err=True)  # fmt: skip
    settings = resolve(flags)
    job = make_job(settings, quick=quick, frozen=frozen, main=not no_main)
    run = CompileRun(job, _progress)
    reports = [run.compile(path) for path in files]
    _show_diagnostics(reports)
    click.echo(render.as_json(reports) if fmt == "json" else render.text(reports), nl=False)
    sys.exit(_status(reports))


def make_job(settings: Settings, *, quick: bool, frozen: bool, main: bool = True) -> CompileJob:
    name = settings.backend_name
    model = _model_id(settings)
    loop = LoopSettings(
        kind="completion" if settings.prompt_kind == "completion" else "chat",
        candidates=settings.candidates,
        attempts=settings.attempts,
        temperature=_temperature(settings, quick),
        max_tokens=settings.token_budget,
        seed=settings.seed,
        quick=quick,
        jobs=settings.jobs,
        limits=Limits(timeout_s=settings.timeout),
        rank=_rank(settings.rank),
        holdout=settings.holdout,
        temperature_step=settings.temperature_step,
        probe=settings.probe,
        repair=settings.repairs,
    )

    def factory():  # type: ignore[no-untyped-def]
        return make_backend(
            name,
            model=settings.model,
            base_url=settings.base_url,
            api=settings.api,
            api_key=settings.api_key,
            timeout=settings.request_timeout,
            replay_dir=settings.replay_dir,
            quant=settings.quant,
        )

    out = Path(settings.out) if settings.out else None
    return CompileJob(factory, name, model, loop, out=out, frozen=frozen, main=main)


def _rank(value: str) -> Rank:
    """The setting's rank, checked against the loop's (settings.py allows only these)."""
    if value == "consensus":
        return "consensus"
    if value == "shortest":
        return "shortest"
    return "first"


def _temperature(settings: Settings, quick: bool) -> float:
    """--quick takes one candidate and no loop: the model's best guess (greedy), not a
    sample, unless a temperature was configured explicitly."""
    if quick and "temperature" not in settings.sources:
        return 0.0
    return settings.temperature


def _model_id(settings: Settings) -> str:
    if settings.backend_name == "local":
        return model_id(settings.model, settings.quant)
    if settings.model:
        return settings.model
    raise ConfigError(
        f"no model configured for the {settings.backend_name} backend — pass --model, "
        "set OPENAI_MODEL, or add `model = ...` to [tool.marshalike] in pyproject.toml"
    )


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _show_diagnostics(reports: list[SpecReport]) -> None:
    for report in reports:
        if report.diagnostics:
            click.echo(render_all(report.diagnostics, {report.path: report.source}), err=True)


def _status(reports: list[SpecReport]) -> int:
    """2 when a spec has errors, 1 when a function failed, else 0 (README, "Exit status")."""
    if any(any(d.is_error for d in r.diagnostics) for r in reports):
        return 2
    return 0 if all(r.ok for r in reports) else 1
