"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def shift_letter(letter: str, shift: int) -> str:
    for first in ("a", "A"):
        start = ord(first)
        if len(letter) == 1 and start <= ord(letter) < start + 26:
            return chr(start + (ord(letter) - start + shift) % 26)
    return letter


def encrypt(text: str, shift: int) -> str:
    return "".join(shift_letter(char, shift) for char in text)


def decrypt(text: str, shift: int) -> str:
    return encrypt(text, -shift)
