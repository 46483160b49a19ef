"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def first_word(text: str) -> str:
    return text.lstrip(" ").split(" ")[0]
