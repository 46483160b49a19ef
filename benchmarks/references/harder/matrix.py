"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def transpose(m: list[list[int]]) -> list[list[int]]:
    return [list(column) for column in zip(*m, strict=False)]


def multiply(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    if any(len(row) != len(b) for row in a):
        raise ValueError("the columns of a are not as many as the rows of b")
    columns = transpose(b)
    return [[sum(x * y for x, y in zip(row, column, strict=True)) for column in columns]
            for row in a]  # fmt: skip
