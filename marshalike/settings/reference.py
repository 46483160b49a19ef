"""The settings reference (docs/configuration.md), written from the schema so it cannot
disagree with it: `marshalike config --reference` prints it."""

from __future__ import annotations

from marshalike.settings.schema import SETTINGS, Setting

_INTRO = """\
# Configuration

Every setting of marshalike, as `marshalike config --reference` writes it from the settings
schema (`marshalike/settings/schema.py`). A setting comes from `[tool.marshalike]` in the
nearest `pyproject.toml`, then the environment, then a flag of `compile` and `watch`; later
sources win, and `marshalike config` shows each value and where it came from. A value
its section does not allow (a number out of range, not whole where a whole number is
asked for, infinite or NaN; a setting that takes text given a number or a list) is an
error with exit status 2, whichever source gave it, naming the setting and the source.
In the file a yes-or-no setting takes a TOML boolean and a number a TOML number
(`candidates = 8`, not `"8"`); the environment's values are text, read as the setting's type.

```toml
[tool.marshalike]
candidates = 8
out = "generated"
```
"""


def markdown() -> str:
    """docs/configuration.md: an introduction, then one section per setting."""
    parts = [_INTRO]
    for about in SETTINGS.values():
        parts.append(_section(about))
    return "\n".join(parts)


def _section(about: Setting) -> str:
    lines = [f"## `{about.name}`", "", about.help + ".", ""]
    lines.append(f"- default: {_default(about)}")
    if about.allowed:
        lines.append("- one of: " + ", ".join(f"`{choice}`" for choice in about.allowed))
    elif about.bounds:
        lines.append(f"- {about.expected}")
    elif about.type is bool:
        lines.append("- `true` or `false` (in the environment also `1`/`0`, `yes`/`no`)")
    if about.url:
        lines.append(
            "- an `http://` or `https://` URL with a host (and a valid port, if any); a "
            "password in it is shown as `***`"
        )
    if not about.empty:
        lines.append("- not empty: leave it unset for the default")
    if about.flag:
        flag = about.flag_name
        if about.type is bool:
            flag += f"`, `--no-{about.name.replace('_', '-')}"
        lines.append(f"- flag: `{flag}`")
    key = f"`{about.name}`" if about.in_file else "none: a secret never lives in a file"
    lines.append(f"- `[tool.marshalike]` key: {key}")
    lines.append("- environment: " + ", ".join(f"`{name}`" for name in about.env_names))
    if about.path:
        lines.append(
            "- a relative path is read from the folder of the pyproject.toml that gives it, "
            "or from the current folder when the environment or a flag gives it"
        )
    return "\n".join(lines) + "\n"


def _default(about: Setting) -> str:
    if about.shown:
        return about.shown
    if about.default is None:
        return "unset"
    value = about.default
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"
