"""The one error decompiling reports to a user: one line, exit status 2."""

from __future__ import annotations

from marshalike.errors import MarshalikeError


class DecompileError(MarshalikeError):
    """A module that cannot be decompiled at all (not Python, not readable), or options
    that cannot be followed (a `--tests` folder that is not there)."""

    exit_code = 2
