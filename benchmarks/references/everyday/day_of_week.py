"""Hand-written reference solution, used by the quality benchmark's simulated user."""

from datetime import date as Date

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def day_of_week(date: str) -> str:
    return DAYS[Date.fromisoformat(date).weekday()]
