"""Hand-written reference solution, used by the quality benchmark's simulated user."""

import re

TIME = re.compile(r"([0-9]{2}):([0-9]{2})")


def parse_time(text: str) -> int:
    match = TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"not HH:MM: {text!r}")
    hours, minutes = int(match[1]), int(match[2])
    if hours > 23 or minutes > 59:
        raise ValueError(f"not a time of day: {text!r}")
    return hours * 60 + minutes


def format_time(minutes: int) -> str:
    hours, rest = divmod(minutes % (24 * 60), 60)
    return f"{hours:02d}:{rest:02d}"


def meeting_end(start: str, minutes: int) -> str:
    return format_time(parse_time(start) + minutes)
