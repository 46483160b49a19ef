"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def absolute_difference(a: int, b: int) -> int:
    return abs(a - b)
