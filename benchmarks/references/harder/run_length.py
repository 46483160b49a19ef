"""Hand-written reference solution, used by the quality benchmark's simulated user."""

import re
from itertools import groupby

RUN = re.compile(r"([^0-9])([0-9]+)")


def encode(text: str) -> str:
    return "".join(f"{char}{len(list(run))}" for char, run in groupby(text))


def decode(code: str) -> str:
    out = []
    end = 0
    for match in RUN.finditer(code):
        if match.start() != end:
            break
        out.append(match[1] * int(match[2]))
        end = match.end()
    if end != len(code):
        raise ValueError(f"not a run-length code: {code!r}")
    return "".join(out)
