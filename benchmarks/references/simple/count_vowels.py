"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def count_vowels(text: str) -> int:
    return sum(1 for char in text if char in "aeiouAEIOU")
