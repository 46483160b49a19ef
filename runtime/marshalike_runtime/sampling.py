"""Token sampling: small pure functions over a batch of logits.

Every function takes logits shaped ``[B, V]`` and never modifies them in place, so a
caller may reuse its logits. Randomness comes only from the
``torch.Generator`` the caller passes, which makes a request reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .cpu_kernels import Kernels, kernels

# The first width `nucleus` sorts; a sharp distribution's nucleus is a handful of tokens.
_NUCLEUS_FIRST = 64
# Past this width a full sort is cheaper than another, wider top-k.
_NUCLEUS_LAST = 4096


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator for one request: seeded when ``seed`` is given, else from OS entropy.
    A seed must fit in 64 bits, signed or unsigned (ValueError)."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
        return generator
    try:
        generator.manual_seed(seed)
    except (RuntimeError, ValueError, OverflowError):  # torch: "Overflow when unpacking long"
        raise ValueError(f"the seed must fit in 64 bits, signed or unsigned; got {seed}") from None
    return generator


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide logits by a positive temperature (in float32, whatever the model dtype)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0 to scale logits, got {temperature}")
    return logits.float() / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` highest logits of each row; the rest become -inf. ``k <= 0`` keeps all."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth_best = torch.topk(logits, k, dim=-1).values[:, -1:]  # [B, 1]
    return logits.masked_fill(logits < kth_best, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of tokens whose probability reaches ``p``.

    The most likely token always survives, so a row is never left empty.
    """
    if p >= 1.0:
        return logits
    values, ids = nucleus(logits, p)
    return torch.full_like(logits, float("-inf")).scatter(-1, ids, values.to(logits.dtype))


def nucleus(logits: torch.Tensor, p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-p tokens of each row, best first: ``(logits [B, k], ids [B, k])``, where a
    row's tokens past its own nucleus have logit -inf (rows share one width ``k``; a row
    narrower than it is padded with -inf).

    Only the best tokens are sorted, as many as the nucleus needs: sorting a 262k
    vocabulary took 30-77 ms a step here (1-4 rows), more than the model's own step; the
    nucleus of a code model is usually a few tokens. Each row starts from the best
    `_NUCLEUS_FIRST` and widens on its own, so one flat row does not widen the others. On
    a CPU our kernel finds a row's best tokens and its normaliser in one pass over it
    (`cpu_kernels.top_logsumexp`); elsewhere torch does, in passes of its own.
    """
    if p <= 0.0 or p > 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    scores = logits.float()
    rows, vocab = scores.shape
    width = min(_NUCLEUS_FIRST, vocab)
    found = _cpu_kernels(scores)
    top = found.top_logsumexp(scores, width) if found is not None else None
    if top is None:
        values, ids = torch.topk(scores, width, dim=-1)  # sorted, best first
        log_total = torch.logsumexp(scores, dim=-1, keepdim=True)  # [B, 1]
    else:
        values, ids, log_total = top
    drop = _past_nucleus(values, log_total, p)
    open_rows = [] if width == vocab else (~drop[:, -1]).nonzero().flatten().tolist()
    if not open_rows:
        return values.masked_fill(drop, float("-inf")), ids
    # The rows whose nucleus goes on past `width`: each widened until it ends, or sorted.
    wider = [_widened(scores[r : r + 1], log_total[r : r + 1], p, width) for r in open_rows]
    k = max(v.shape[-1] for v, _ in wider)
    out_values = torch.full((rows, k), float("-inf"), device=scores.device)
    out_ids = torch.zeros((rows, k), dtype=torch.long, device=scores.device)
    out_values[:, :width] = values.masked_fill(drop, float("-inf"))
    out_ids[:, :width] = ids
    for r, (v, i) in zip(open_rows, wider, strict=True):
        out_values[r], out_ids[r] = float("-inf"), 0
        out_values[r, : v.shape[-1]], out_ids[r, : i.shape[-1]] = v[0], i[0]
    return out_values, out_ids


def _widened(
    row: torch.Tensor, log_total: torch.Tensor, p: float, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One row's nucleus ``([1, k], [1, k])``, its width grown from ``width`` eightfold at
    a time until the nucleus ends inside it, or past `_NUCLEUS_LAST` the whole row sorted."""
    vocab = row.shape[-1]
    while True:
        width *= 8
        if width >= vocab or width > _NUCLEUS_LAST:
            values, ids = torch.sort(row, dim=-1, descending=True)
        else:
            found = _cpu_kernels(row)
            best = found.top_values(row, width) if found is not None else None
            values, ids = best if best is not None else torch.topk(row, width, dim=-1)
        drop = _past_nucleus(values, log_total, p)
        if values.shape[-1] == vocab or bool(drop[:, -1].all()):
            return values.masked_fill(drop, float("-inf")), ids


def _past_nucleus(values: torch.Tensor, log_total: torch.Tensor, p: float) -> torch.Tensor:
    """Which of each row's best tokens (``values`` best first) lie past its nucleus: the
    mass strictly before a token has reached ``p``."""
    probs = torch.exp(values - log_total)
    drop = torch.cumsum(probs, dim=-1) - probs >= p
    # The best token stays whatever p: a p below float32's least value rounds to 0 there,
    # and 0 >= 0 would drop it, leaving the row empty.
    drop[:, 0] = False
    return drop


def _cpu_kernels(scores: torch.Tensor) -> Kernels | None:
    """Our kernels, for float32 rows on a CPU where they are built; else None (torch)."""
    cpu = scores.device.type == "cpu" and scores.dtype == torch.float32
    return kernels() if cpu else None


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The most likely token of each row, of equal ones the first: ``[B, V] -> [B]``. Our
    kernel's one pass over float32 rows on a CPU, else torch's."""
    found = _cpu_kernels(logits)
    best = found.top_values(logits, 1) if found is not None else None
    return best[1][:, 0] if best is not None else torch.argmax(logits, dim=-1)


def candidate_generators(
    seed: int | None, n: int, device: torch.device | str = "cpu"
) -> list[torch.Generator]:
    """One generator per candidate, all derived from the request's seed.

    Each candidate draws from its own stream, so its samples do not depend on how many
    other candidates are still being sampled beside it.
    """
    request = make_generator(seed)
    seeds = torch.randint(0, 2**62, (n,), generator=request).tolist()
    return [make_generator(s, device) for s in seeds]


def sample(
    logits: torch.Tensor,
    *,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = 0,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
) -> torch.Tensor:
    """Draw one token id per row of ``logits [B, V]``; temperature 0 means greedy.

    ``generator`` is one generator for the whole batch, or one per row. A temperature so
    small that a row's logits divided by it overflow float32 (its best one becomes
    infinite) samples that row greedily, the limit of a falling temperature: every row
    still draws its uniform, so a row's generator advances the same either way.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return greedy(logits)
    scaled = apply_temperature(logits, temperature)
    overflow = ~torch.isfinite(scaled.amax(dim=-1, keepdim=True))  # [B, 1]
    cold = bool(overflow.any())
    if cold:
        scaled = torch.where(overflow, logits.float(), scaled)  # drawn from, then replaced
    tokens = _drawn(top_k_filter(scaled, top_k), top_p, generator)
    return torch.where(overflow[:, 0], greedy(logits), tokens) if cold else tokens


def _drawn(
    scaled: torch.Tensor,
    top_p: float,
    generator: torch.Generator | Sequence[torch.Generator] | None,
) -> torch.Tensor:
    """One token per row of the scaled, top-k filtered logits, within the nucleus."""
    uniforms = _uniforms(scaled.shape[0], generator, scaled.device)
    if top_p >= 1.0:
        return _inverse_cdf(torch.softmax(scaled, dim=-1), uniforms)
    # Draw within the nucleus only (its tokens best first), then map back to token ids.
    values, ids = nucleus(scaled, top_p)
    picked = _inverse_cdf(torch.softmax(values, dim=-1), uniforms)
    return ids.gather(-1, picked[:, None]).squeeze(-1)


def _uniforms(
    rows: int, generator: torch.Generator | Sequence[torch.Generator] | None, device: torch.device
) -> torch.Tensor:
    if generator is None or isinstance(generator, torch.Generator):
        return torch.rand(rows, generator=generator, device=device)
    if len(generator) != rows:
        raise ValueError(f"got {len(generator)} generators for {rows} rows")
    return torch.cat([torch.rand(1, generator=g, device=device) for g in generator])


def _inverse_cdf(probs: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """The token whose cumulative-probability interval holds each row's uniform draw.

    Draws are scaled by the row's total, so rounding in the cumulative sum can never pick
    a token past the last one with non-zero probability.
    """
    cdf = torch.cumsum(probs, dim=-1)  # [B, V]
    total = cdf[:, -1:]  # [B, 1]
    # Strictly below the total even when u * total rounds up to it.
    targets = torch.minimum(
        uniforms[:, None] * total, torch.nextafter(total, torch.zeros_like(total))
    )
    return torch.searchsorted(cdf, targets, right=True).squeeze(-1)
