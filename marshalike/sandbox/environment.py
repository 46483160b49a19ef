"""The environment of a sandboxed run, built from nothing: a safe PATH, a UTF-8 locale, a
home in the run's folder, and the one thing a user's run of the generated tests shares
with this machine that code can read without asking for it, the local time zone."""

from __future__ import annotations

import os


def scrubbed_env(home: str) -> dict[str, str]:
    """A fresh environment: nothing of ours is inherited except a safe PATH, the locale
    and the local time zone (`local_zone`)."""
    return {
        **local_zone(),
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": home,
        "TMPDIR": home,
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def local_zone() -> dict[str, str]:
    """`TZ` for a run: this machine's local time zone, which a user's run of the generated
    tests has. The sandbox shows no /etc/localtime, so code that reads local time
    (`datetime.fromtimestamp`) would otherwise pass on UTC and fail where the tests run."""
    if "TZ" in os.environ:
        return {"TZ": os.environ["TZ"]}
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return {}
    _, found, key = target.partition("/zoneinfo/")
    return {"TZ": key} if found and key else {}
