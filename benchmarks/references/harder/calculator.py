"""Hand-written reference solution, used by the quality benchmark's simulated user."""

SYMBOLS = "+-*/()"


def tokenize(expression: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(expression):
        char = expression[i]
        if char in "0123456789":
            start = i
            while i < len(expression) and expression[i] in "0123456789":
                i += 1
            tokens.append(expression[start:i])
            continue
        if char in SYMBOLS:
            tokens.append(char)
        elif not char.isspace():
            raise ValueError(f"unexpected character {char!r}")
        i += 1
    return tokens


def evaluate(expression: str) -> float:
    tokens = tokenize(expression)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise ValueError("the expression ends too early")
        position += 1
        return tokens[position - 1]

    def sum_() -> float:
        value = product()
        while peek() in ("+", "-"):
            value = value + product() if take() == "+" else value - product()
        return value

    def product() -> float:
        value = atom()
        while peek() in ("*", "/"):
            value = value * atom() if take() == "*" else value / atom()
        return value

    def atom() -> float:
        token = take()
        if token == "(":
            value = sum_()
            if take() != ")":
                raise ValueError("a parenthesis is not closed")
            return value
        if token.isdigit():
            return float(int(token))
        raise ValueError(f"unexpected {token!r}")

    value = sum_()
    if position != len(tokens):
        raise ValueError(f"unexpected {tokens[position]!r}")
    return value
