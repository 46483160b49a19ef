"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def count_words(text: str) -> int:
    return len(text.split())
