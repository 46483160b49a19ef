"""The specs of a run and the `# use`s between them, each spec read and parsed once.

`SpecGraph` reads a spec (through `files.read_spec`) the first time anything asks about it
and keeps what it read, so a spec used by several others is read once. It answers what a
spec uses (`uses`, `reached`), what uses it (`users_of`), the order to compile specs in
(`order`) and, told which files changed, what to re-read and recompile (`changed`).
Loading, `compile` and `check` hold one graph for a run; watch mode holds one for its
whole session and tells it what changed.

A spec is known by the real folder it is in and its own name (`key`): its `# use`s and CSV
files are relative to the folder its name is in, so a link to a spec reads the link's
neighbours, and `..` goes up from the real folder, as the operating system does.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from marshalike.language.files import SpecText, read_spec
from marshalike.language.parse import ParseResult, parse
from marshalike.language.spec import Module, Use


@dataclass(frozen=True)
class SpecFile:
    """One spec as read. `parsed` is None when it could not be read (`error` says why) or
    is not UTF-8. `reads` are the files it reads (its CSV files and used specs) as of its
    last parse that gave a module, so a spec saved half-edited keeps its place."""

    path: Path
    content: SpecText | None = None
    error: OSError | None = None
    parsed: ParseResult | None = None
    reads: frozenset[Path] = frozenset()

    @property
    def module(self) -> Module | None:
        return self.parsed.module if self.parsed is not None else None

    @property
    def source(self) -> str:
        return self.content.source if self.content is not None else ""

    def parsed_as(self, display: str) -> ParseResult:
        """The parse, named as `display` in its module and diagnostics (the graph parses
        a spec once, under its key, whoever asks and however they name it)."""
        if self.parsed is None:
            raise ValueError(f"{display}: not parsed")
        module = self.parsed.module
        return ParseResult(
            None if module is None else dataclasses.replace(module, path=display),
            tuple(dataclasses.replace(d, path=display) for d in self.parsed.diagnostics),
        )


Link = tuple[Use, Path]  # a `# use` line and the spec it names


@dataclass(frozen=True)
class Reached:
    """A spec reached from another: each `# use` followed, the start's own first."""

    via: tuple[Link, ...]

    @property
    def path(self) -> Path:
        return self.via[-1][1]


@dataclass(frozen=True)
class Changes:
    """What a change to some files means for the specs the graph knows."""

    reparsed: frozenset[Path]  # specs whose bytes differ from the last read (or vanished)
    recompile: frozenset[Path]  # the changed specs and every spec that reads a changed file


class SpecGraph:
    def __init__(self) -> None:
        self._files: dict[Path, SpecFile] = {}

    @staticmethod
    def key(path: str | Path) -> Path:
        """The name the graph knows a spec (or any file it reads) by: see the docstring."""
        absolute = Path(path).absolute()
        if absolute.name in ("", ".."):
            return absolute.resolve()
        return absolute.parent.resolve() / absolute.name

    def target(self, spec: str | Path, use: Use) -> Path:
        """The spec a `# use` names: its path is relative to the using spec's folder."""
        return self.key(self.key(spec).parent / use.path)

    def file(self, path: str | Path) -> SpecFile:
        """The spec at `path`, read and parsed on the first question about it."""
        key = self.key(path)
        if key not in self._files:
            self._files[key] = self._read(key, None)
        return self._files[key]

    def links(self, path: str | Path) -> tuple[Link, ...]:
        """Each `# use` of the spec and the spec it names; none when it does not parse."""
        spec = self.file(path)
        if spec.module is None:
            return ()
        return tuple((use, self.target(spec.path, use)) for use in spec.module.uses)

    def uses(self, path: str | Path) -> tuple[Path, ...]:
        """The specs the spec at `path` uses directly, in the order of its `# use` lines."""
        return tuple(dict.fromkeys(target for _, target in self.links(path)))

    def reached(self, path: str | Path) -> Iterator[Reached]:
        """Every spec the spec at `path` uses, directly or through others, nearest first,
        each once, with the `# use`s that reach it first; never the spec itself. A spec
        that does not parse is reached, but not what it would use."""
        start = self.key(path)
        seen = {start}
        pending = deque(Reached((link,)) for link in self.links(start))
        while pending:
            reached = pending.popleft()
            if reached.path in seen:
                continue
            seen.add(reached.path)
            yield reached
            pending.extend(Reached((*reached.via, link)) for link in self.links(reached.path))

    def chain(self, start: str | Path, end: str | Path) -> tuple[Path, ...] | None:
        """The shortest chain of specs from `start` to `end` along `# use`s, both
        included; None when `start` does not reach `end`."""
        first, last = self.key(start), self.key(end)
        if first == last:
            return (first,)
        found = next((r for r in self.reached(first) if r.path == last), None)
        return None if found is None else (first, *(target for _, target in found.via))

    def order(self, paths: Iterable[str | Path]) -> list[Path]:
        """The specs at `paths` and every spec they use, each once, each after the specs it
        uses; otherwise by path. In a circle of uses (loading reports it, M035) the spec
        the walk enters first comes last."""
        ordered: list[Path] = []
        visited: set[Path] = set()
        for root in sorted({self.key(p) for p in paths}):
            if root in visited:
                continue
            visited.add(root)
            stack = [(root, iter(self.uses(root)))]
            while stack:
                spec, pending = stack[-1]
                used = next((u for u in pending if u not in visited), None)
                if used is None:
                    stack.pop()
                    ordered.append(spec)
                else:
                    visited.add(used)
                    stack.append((used, iter(self.uses(used))))
        return ordered

    def users_of(self, paths: Iterable[str | Path]) -> frozenset[Path]:
        """The known specs that read a file at `paths` (a used spec or a CSV file),
        directly or through the specs they use."""
        readers: dict[Path, set[Path]] = {}
        for spec in self._files.values():
            for read in spec.reads:
                readers.setdefault(read, set()).add(spec.path)
        return _closure({self.key(p) for p in paths}, lambda p: readers.get(p, set()))

    def reads_of(self, path: str | Path) -> frozenset[Path]:
        """Every file a compile of the spec at `path` reads besides it: its CSV files and
        used specs, and theirs."""
        specs = [self.key(path), *(r.path for r in self.reached(path))]
        return frozenset().union(*(self.file(s).reads for s in specs))

    def all_reads(self) -> frozenset[Path]:
        """Every file the known specs read."""
        return frozenset().union(*(spec.reads for spec in self._files.values()))

    def changed(self, paths: Iterable[str | Path]) -> Changes:
        """The files at `paths` were written, created or removed. The known specs among
        them are read again (and parsed again only when their bytes differ); all of them
        are to recompile, with every spec that reads one of the files at any depth. A
        spec saved unchanged recompiles too: the lock makes that free."""
        touched = {self.key(p) for p in paths}
        known = touched & self._files.keys()
        reparsed = set()
        for path in known:
            before = self._files[path]
            self._files[path] = after = self._read(path, before)
            if _raw(after) != _raw(before):
                reparsed.add(path)
        return Changes(frozenset(reparsed), frozenset(known) | self.users_of(touched))

    def forget(self, path: str | Path) -> None:
        """Drop a spec (deleted, say): what it read no longer counts as read."""
        self._files.pop(self.key(path), None)

    def _read(self, key: Path, before: SpecFile | None) -> SpecFile:
        kept = before.reads if before is not None else frozenset()
        try:
            content = read_spec(key)
        except OSError as exc:
            return SpecFile(key, error=exc, reads=kept)
        if before is not None and _raw(before) == content.raw:
            return before
        if content.text is None:
            return SpecFile(key, content, reads=kept)
        parsed = parse(content.text, str(key))
        if parsed.module is None:
            return SpecFile(key, content, parsed=parsed, reads=kept)
        return SpecFile(key, content, parsed=parsed, reads=self._reads(key, parsed.module))

    def _reads(self, key: Path, module: Module) -> frozenset[Path]:
        names = [t.source for t in module.types if t.source] + [u.path for u in module.uses]
        return frozenset(self.key(key.parent / name) for name in names)


def _raw(spec: SpecFile) -> bytes | None:
    return spec.content.raw if spec.content is not None else None


def _closure(starts: set[Path], step: Callable[[Path], Iterable[Path]]) -> frozenset[Path]:
    """What `step` reaches from `starts` in one step or more."""
    found: set[Path] = set()
    pending = list(starts)
    while pending:
        for following in step(pending.pop()):
            if following not in found:
                found.add(following)
                pending.append(following)
    return frozenset(found)
