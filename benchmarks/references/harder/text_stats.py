"""Hand-written reference solution, used by the quality benchmark's simulated user."""

import re


def sentences(text: str) -> list[str]:
    return [piece.strip() for piece in re.split(r"[.!?]", text) if piece.strip()]


def word_count(sentence: str) -> int:
    return len(sentence.split())


def average_sentence_length(text: str) -> float:
    found = sentences(text)
    if not found:
        return 0.0
    return round(sum(word_count(s) for s in found) / len(found), 2)
