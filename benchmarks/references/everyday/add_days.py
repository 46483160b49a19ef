"""Hand-written reference solution, used by the quality benchmark's simulated user."""

from datetime import date as Date
from datetime import timedelta


def add_days(date: str, days: int) -> str:
    return (Date.fromisoformat(date) + timedelta(days=days)).isoformat()
