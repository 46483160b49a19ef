"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def is_even(n: int) -> bool:
    return n % 2 == 0
