"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def reverse_text(text: str) -> str:
    return text[::-1]
