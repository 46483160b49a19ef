"""Hand-written reference solution, used by the quality benchmark's simulated user."""

from typing import Any


def last_element(items: list) -> Any:
    return items[-1] if items else None
