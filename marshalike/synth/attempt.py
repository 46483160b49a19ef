"""One attempt of the loop: its sampling settings, and its completions judged as the
backend finishes them.

Where the backend gives each completion as it finishes (the local one), each is verified
while the others are still decoded, and once the attempt's verdicts settle it (`enough`:
the code to choose and a second passing code to ask questions with; never while ranking
by the least code) the rest stop. Candidates are handed back in the request's order,
whatever order they finished in, so the loop ranks them as it would had they all come at
once.
"""

from __future__ import annotations

from collections import Counter

from marshalike.backends.base import Backend, Completion, Prompt, Sampling, each_completion
from marshalike.synth import prompts
from marshalike.synth.judge import (
    Candidate,
    Harness,
    Tally,
    fingerprint,
    judge,
    passes,
    passing_codes,
)
from marshalike.synth.loop_settings import LoopSettings
from marshalike.synth.prompts import UnitContext

# Consensus ranking stops once this many passing samples agree (or the attempts run out).
CONFIRMATIONS = 2


def sample(
    backend: Backend, prompt: Prompt, settings: LoopSettings, attempt: int
) -> list[Completion]:
    """The completions of one attempt, all of them."""
    return backend.generate(prompt, sampling_of(prompt, settings, attempt))


def sampling_of(prompt: Prompt, settings: LoopSettings, attempt: int) -> Sampling:
    """How an attempt samples: its own seed (the setting's plus the attempt's number less
    one) and temperature."""
    return Sampling(
        n=1 if settings.quick else settings.candidates,
        temperature=settings.temperature_at(attempt),
        top_p=settings.top_p,
        max_tokens=settings.token_budget,
        stop=prompts.stops(prompt.kind),
        seed=settings.seed + attempt - 1,
        loops=prompts.LOOPS,
    )


def judged_attempt(
    ctx: UnitContext,
    shown: UnitContext,
    backend: Backend,
    prompt: Prompt,
    settings: LoopSettings,
    attempt: int,
    tally: Tally,
    harness: Harness,
) -> list[Candidate]:
    """One attempt's candidates. Where the backend gives each completion as it finishes
    (`each_completion`), each is judged then, while the others are still decoded, and once
    the attempt has what the loop needs (`enough`) the rest are stopped, not waited for;
    otherwise all are judged together."""
    found = each_completion(backend, prompt, sampling_of(prompt, settings, attempt))
    if isinstance(found, list):
        return judge(ctx, shown, [c for _, c in found], settings, tally, harness)
    judged: list[tuple[int, Candidate]] = []
    try:
        for index, completion in found:
            (cand,) = judge(ctx, shown, [completion], settings, tally, harness)
            judged.append((index, cand))
            if enough([c for _, c in judged], tally, settings, harness):
                break
    finally:
        close = getattr(found, "close", None)
        if callable(close):
            close()  # stops the decoding of the candidates not needed
    # In the request's order, as a backend that answers all at once gives them: where two
    # candidates rank the same, the same one is chosen either way.
    return [cand for _, cand in sorted(judged, key=lambda pair: pair[0])]


def enough(batch: list[Candidate], tally: Tally, settings: LoopSettings, harness: Harness) -> bool:
    """Whether the attempt's candidates judged so far settle it as the rest could: a code
    passes (sampled `CONFIRMATIONS` times, where consensus ranks), and, where questions
    are asked, the unit has two passing codes to compare, so no extra sample is drawn to
    look for one (`loop._ask`). A failing attempt waits for all: the repair needs the best; so
    does ranking by the least code, since a shorter code may still come."""
    if not harness.names or settings.rank == "shortest":
        return False
    counts = Counter(fingerprint(c.code) for c in batch if c.code is not None and passes(c))
    if not counts:
        return False
    if settings.rank == "consensus" and max(counts.values()) < CONFIRMATIONS:
        return False
    return not settings.questions or len(passing_codes(tally)) >= 2
