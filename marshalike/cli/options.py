"""Click options shared by the commands that compile (`compile`, `watch`), declared once so
their names, types and help texts cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from marshalike.settings import DEFAULT_QUANT, QUANT_CHOICES

F = TypeVar("F", bound=Callable[..., object])

# In the order `--help` lists them.
_COMPILE_OPTIONS = (
    click.option(
        "--backend",
        type=click.Choice(["local", "openai", "replay"]),
        help="Who writes the bodies: the bundled runtime, an OpenAI-compatible server, or "
        "recorded responses (tests only). [local]",
    ),
    click.option("--model", help="Model id (openai) or a GGUF file / safetensors folder (local)."),
    click.option("--base-url", help="An OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."),
    click.option(
        "--api",
        type=click.Choice(["chat", "completions"]),
        help="The openai backend's API: chat for instruct models, completions for base models.",
    ),
    click.option(
        "--quant",
        type=click.Choice(QUANT_CHOICES),
        help="Local backend: int4 keeps the GGUF's 4- to 8-bit codes (CPU only); auto is int4 "
        f"on a CPU with a C compiler, else none [{DEFAULT_QUANT}].",
    ),
    click.option("--candidates", type=click.IntRange(min=1), help="Candidates per attempt [4]."),
    click.option("--attempts", type=click.IntRange(min=1), help="Attempts, repairs included [3]."),
    click.option("--quick", is_flag=True, help="One candidate, no repair, no verification."),
    click.option(
        "--rank",
        type=click.Choice(["first", "consensus", "shortest"]),
        help="Among passing candidates: the first, the one most agree with, or the one with "
        "the least code [shortest].",
    ),
    click.option(
        "--holdout/--no-holdout",
        default=None,
        help="Keep the last of 3+ examples out of the prompts, as a final check [no].",
    ),
    click.option(
        "--probe/--no-probe",
        default=None,
        help="Reject passing code that crashes on inputs mutated from the examples, "
        "refuses them with an error the spec does not promise or returns a value of "
        "another type than the declared one there, special-cases an "
        "example's value or returns its output, or ignores a promise of the description "
        "(case blindness) [yes].",
    ),
    click.option(
        "--repair/--no-repair",
        default=None,
        help="Attempts after the first show the model its failing code; without, they "
        "sample the first prompt again [yes with chat prompts, no with completion prompts].",
    ),
    click.option(
        "--temperature-step",
        type=click.FloatRange(min=-2, max=2),
        help="Added to the temperature at each attempt, clamped to [0, 2] [0].",
    ),
    click.option("--out", type=click.Path(file_okay=False), help="Write outputs here."),
    click.option("--jobs", type=click.IntRange(min=1), help="Units and tests run at once [4]."),
    click.option("--seed", type=int, help="Sampling seed [0]."),
    click.option("--timeout", type=click.FloatRange(min=0.1), help="Seconds per test run [10]."),
    click.option("--replay-dir", type=click.Path(), help="Recorded responses (--backend replay)."),
    click.option(
        "--no-main", "no_main", is_flag=True, help="Leave out the module's own command line."
    ),
)


def compile_options(command: F) -> F:
    """Add the backend, sampling and output options every compiling command takes."""
    for option in reversed(_COMPILE_OPTIONS):
        command = option(command)
    return command
