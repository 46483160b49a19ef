"""Hand-written reference solution, used by the quality benchmark's simulated user."""

NUMERALS = (
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
)  # fmt: skip


def int_to_roman(n: int) -> str:
    if not 1 <= n <= 3999:
        raise ValueError(f"{n} is not from 1 to 3999")
    out = []
    for value, symbol in NUMERALS:
        count, n = divmod(n, value)
        out.append(symbol * count)
    return "".join(out)
