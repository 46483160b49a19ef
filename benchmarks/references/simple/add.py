"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def add(a: int, b: int) -> int:
    return a + b
