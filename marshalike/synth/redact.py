"""Keep the compiler's secrets out of what it prints and what it sends to a model.

The sandbox gives a candidate no environment, so it should never learn a key; this is the
second line, for the day it does. Every text that leaves through a failure report or a
repair prompt passes through `redact`, which replaces the exact value of each
secret-looking variable of the compiler's environment (a name containing KEY, TOKEN,
SECRET or PASSWORD, any case) with `[redacted NAME]`. The value's `repr` and JSON forms are
replaced too, since failure text shows values as Python or JSON would write them.

Not caught: a secret the candidate transformed (reversed, split, encoded) before returning
it, and values shorter than `MIN_LENGTH`, which would redact common words and numbers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from marshalike.gate.questions import Question

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
MIN_LENGTH = 6


def secrets(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(form of the value, variable name) for each secret, longest form first, so that a
    secret that contains another is replaced whole."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for name in sorted(env):
        value = env[name]
        if SECRET_NAME.search(name) and len(value.strip()) >= MIN_LENGTH:
            for form in (value, repr(value)[1:-1], json.dumps(value)[1:-1]):
                found.setdefault(form, name)
    return sorted(found.items(), key=lambda item: (-len(item[0]), item[1]))


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with every secret's value replaced by `[redacted NAME]`, in one pass (a
    placeholder is never searched again)."""
    names = dict(secrets(environ))
    if not names:
        return text
    pattern = re.compile("|".join(re.escape(value) for value in names))
    return pattern.sub(lambda match: f"[redacted {names[match[0]]}]", text)


def redact_question(question: Question) -> dict[str, Any]:
    """A question as JSON, with nothing secret in what the candidates answered."""
    data = question.to_json()
    data["call"] = redact(data["call"])
    if "why" in data:
        data["why"] = redact(data["why"])
    for reply in data["replies"]:
        reply["shown"] = redact(reply["shown"])
        reply["expected"] = redact(reply["expected"]) if reply["expected"] else None
    return data
