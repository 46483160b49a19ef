"""A model server's URL (the `base_url` setting): checked once with the other settings, so
a malformed one is a one-line error before any request; and shown without its password,
in messages and by `marshalike config`."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from marshalike.errors import ConfigError

# `SCHEME://USER:PASSWORD@` at the start of a URL: the password runs to the netloc's last @.
_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*):[^/?#]*@")
SCHEMES = ("http", "https")


def shown_url(url: str) -> str:
    """`url` with the password in it, if any, as `***`: what messages may print."""
    return _PASSWORD.sub(r"\1:***@", url)


def check_url(url: str, where: str, name: str = "base_url") -> str:
    """`url` when it is an http or https URL with a host and a valid port; else a
    `ConfigError` naming `where` it came from, the password hidden."""
    shown = shown_url(url)
    problem = _problem(url)
    if problem:
        raise ConfigError(
            f"{where}: {name} {shown!r} {problem} — give a URL such as http://127.0.0.1:8000/v1"
        )
    return url


def _problem(url: str) -> str:
    """What is wrong with `url` as a server's URL ("" when nothing)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — reading it checks it (a number, in range)
    except ValueError as exc:
        return f"is not a valid URL ({shown_url(str(exc))})"
    if parts.scheme not in SCHEMES:
        return "is not an http:// or https:// URL"
    host = parts.hostname
    if not host or any(c.isspace() or not c.isprintable() for c in host):
        return "names no valid host"
    return ""
