"""Hand-written reference solution, used by the quality benchmark's simulated user."""


def slugify(title: str) -> str:
    spaced = "".join(char.lower() if char.isalnum() else " " for char in title)
    return "-".join(spaced.split())
