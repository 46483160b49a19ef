"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def square(n: int) -> int:
    return n * n
