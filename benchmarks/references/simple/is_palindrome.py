"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def is_palindrome(word: str) -> bool:
    lowered = word.lower()
    return lowered == lowered[::-1]
