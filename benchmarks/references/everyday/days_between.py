"""Hand-written reference solution, used by the quality benchmark's simulated user."""

from datetime import date


def days_between(start: str, end: str) -> int:
    return (date.fromisoformat(end) - date.fromisoformat(start)).days
