"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def average(numbers: list[float]) -> float:
    if not numbers:
        return 0.0
    return sum(numbers) / len(numbers)
