"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def largest(numbers: list[int]) -> int:
    return max(numbers)
