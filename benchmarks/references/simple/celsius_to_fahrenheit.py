"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def celsius_to_fahrenheit(celsius: float) -> float:
    return celsius * 9 / 5 + 32
