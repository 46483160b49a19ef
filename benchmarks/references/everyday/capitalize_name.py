"""Hand-written reference solution, used by the quality benchmark's simulated user."""

import re


def capitalize_name(name: str) -> str:
    parts = re.split(r"([ -])", name)
    return "".join(part[:1].upper() + part[1:].lower() for part in parts)
