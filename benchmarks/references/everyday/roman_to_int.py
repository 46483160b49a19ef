"""Hand-written reference solution, used by the quality benchmark's simulated user."""

VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def roman_to_int(numeral: str) -> int:
    if any(char not in VALUES for char in numeral):
        raise ValueError(f"not a Roman numeral in capitals: {numeral!r}")
    total = 0
    for i, char in enumerate(numeral):
        value = VALUES[char]
        if i + 1 < len(numeral) and value < VALUES[numeral[i + 1]]:
            total -= value
        else:
            total += value
    return total
