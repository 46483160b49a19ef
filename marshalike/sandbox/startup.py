"""What a sandboxed child needs to start at all: user ids that exist in this user
namespace for the root-run child to take, and a bootstrap whose failures read as one line."""

from __future__ import annotations

from pathlib import Path

# The bootstrap runs before anything untrusted and ends in execve: an exception before
# then (a mount or chown the kernel refuses) is the machine's, and reads as one line.
_GUARD = """\
import sys
try:
    exec(compile({source!r}, "<marshalike bootstrap>", "exec"), {{"__name__": "__main__"}})
except BaseException as exc:
    if isinstance(exc, SystemExit):
        raise
    sys.stderr.write("marshalike sandbox: the run could not start: %s: %s\\n"
                     % (type(exc).__name__, exc))
    sys.stderr.flush()
    import os
    os._exit(125)
"""


def guarded(source: str) -> str:
    """`source` (the bootstrap's text) wrapped so that an exception prints one line and
    exits 125 instead of a traceback."""
    return _GUARD.format(source=source)


def unmapped_ids(first: int, count: int, maps: Path = Path("/proc/self")) -> str | None:
    """Why user and group ids `first` .. `first + count - 1` cannot be taken here (a user
    namespace with a narrow map: rootless podman, userns-remap, `unshare -r`), or None when
    every one of them is mapped. A system without the map files maps them all."""
    for kind in ("uid", "gid"):
        try:
            text = (maps / f"{kind}_map").read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            continue
        ranges = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) == 3 and all(field.isdigit() for field in fields):
                ranges.append((int(fields[0]), int(fields[0]) + int(fields[2])))
        if not any(start <= first and first + count <= end for start, end in ranges):
            last = first + count - 1
            return f"{kind}s {first}-{last} are not mapped in this user namespace"
    return None
