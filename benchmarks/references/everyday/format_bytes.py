"""Hand-written reference solution, used by the quality benchmark's simulated user."""

UNITS = (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024))


def format_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    for unit, scale in UNITS:
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    raise AssertionError("unreachable: a size of 1024 or more is at least 1 KB")
