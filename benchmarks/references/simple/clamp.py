"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))
