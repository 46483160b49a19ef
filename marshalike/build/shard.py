"""One shard of a set of specs, for spreading a compile or a check over CI jobs.

`--shard K/N` keeps the specs of shard K of N (N at most MOST_SHARDS). Specs joined by
`# use` (directly or through others) always land in one shard together, so no shard
compiles a spec another shard also needs: the specs fall into groups (the connected parts
of the `# use` graph among the specs given), and the groups are dealt out, the largest
first, each to the shard with the fewest specs so far (ties to the lower shard). The deal
depends only on the specs' paths relative to the current folder and their `# use` lines,
so every CI job computes the same shards, and the union of the N shards is every spec,
each once.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Sequence
from pathlib import Path

from marshalike.errors import MarshalikeError
from marshalike.language.graph import SpecGraph

# The most shards: far more CI jobs than any matrix runs (GitHub's allows 256).
MOST_SHARDS = 10_000


class ShardError(MarshalikeError):
    """A --shard value that is not K/N with 1 <= K <= N <= MOST_SHARDS."""

    exit_code = 2


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` as (K, N); ShardError otherwise."""
    k, slash, n = text.partition("/")
    if not (slash and k.strip().isdecimal() and n.strip().isdecimal()):
        raise ShardError(f"--shard takes K/N (shard K of N, from 1), not {text!r}")
    try:  # more digits than int() reads (4300) are more shards than anyone runs
        index, count = int(k), int(n)
    except ValueError:
        raise ShardError(f"--shard {text[:40]}...: N must be at most {MOST_SHARDS}") from None
    if count > MOST_SHARDS:
        raise ShardError(f"--shard {text}: N must be at most {MOST_SHARDS}")
    if not 1 <= index <= count:
        raise ShardError(f"--shard {text}: K must be between 1 and N")
    return index, count


def shard(paths: Sequence[Path], index: int, count: int, graph: SpecGraph) -> list[Path]:
    """The specs of `paths` in shard `index` of `count`, in their given order."""
    keys = {graph.key(p): p for p in paths}
    groups = _groups(list(keys), graph)
    groups.sort(key=lambda group: (-len(group), min(_name(p) for p in group)))
    # (specs so far, shard) of each shard that can get a group: with more shards than
    # groups, the rest stay empty, so the work grows with the groups, not with `count`.
    loads = [(0, i) for i in range(min(count, len(groups)))]
    mine: set[Path] = set()
    for group in groups:
        load, target = heapq.heappop(loads)  # the fewest specs, ties to the lower shard
        heapq.heappush(loads, (load + len(group), target))
        if target == index - 1:
            mine |= group
    return [path for key, path in keys.items() if key in mine]


def _groups(keys: list[Path], graph: SpecGraph) -> list[set[Path]]:
    """The specs joined by `# use`, directly or through specs not given."""
    given = set(keys)
    parent = {key: key for key in keys}

    def root(key: Path) -> Path:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for key in keys:
        for reached in graph.reached(key):
            other = graph.key(reached.path)
            if other in given:
                parent[root(other)] = root(key)
            else:  # a spec not given joins every given spec that reaches it
                parent.setdefault(other, other)
                parent[root(other)] = root(key)
    found: dict[Path, set[Path]] = {}
    for key in keys:
        found.setdefault(root(key), set()).add(key)
    return list(found.values())


def _name(path: Path) -> str:
    """The spec's path as the same checkout names it on every machine."""
    try:
        return os.path.relpath(path).replace(os.sep, "/")
    except ValueError:  # another drive
        return path.as_posix()
