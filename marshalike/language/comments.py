"""HTML comments in a spec (`<!-- -->`, also across lines), blanked to spaces as the
parser reads them, keeping columns: what a comment holds is no part of the spec. A comment
opens at `<!--` and closes at the first `-->` after it (`<!-->` closes none)."""

from __future__ import annotations

_COMMENT_OPEN = "<!--"
_COMMENT_CLOSE = "-->"

Opened = tuple[int, int]  # where a comment opens: its line and column, 1-based


def blank_comments(
    lines: list[str], opened: Opened | None = None, first: int = 1
) -> tuple[list[str], Opened | None]:
    """Replace HTML comments with spaces; return the lines and where an unclosed one opens.
    `lines` may go on from earlier ones: line `first` of the text, with the comment that
    opens at `opened` still open before it (`blank_comments`' second value for those)."""
    out: list[str] = []
    for number, line in enumerate(lines, first):
        if opened is None and _COMMENT_OPEN not in line:
            out.append(line)
            continue
        kept, opened = _blank_line(line, number, opened)
        out.append(kept)
    return out, opened


def _blank_line(line: str, number: int, opened: Opened | None) -> tuple[str, Opened | None]:
    pieces: list[str] = []
    position = 0
    while position <= len(line):
        if opened is None:
            start = line.find(_COMMENT_OPEN, position)
            if start < 0:
                pieces.append(line[position:])
                break
            pieces.append(line[position:start])
            opened, position = (number, start + 1), start
            continue
        close = line.find(_COMMENT_CLOSE, position + (4 if opened[0] == number else 0))
        end = len(line) if close < 0 else close + len(_COMMENT_CLOSE)
        pieces.append(" " * (end - position))
        position = end
        if close < 0:
            break
        opened = None
    return "".join(pieces), opened
