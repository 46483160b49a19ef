"""When a candidate is caught in a loop: the same block of lines written again and again.

A small model that starts repeating itself (`# TODO: fix this` line after line, or two
lines that rewrite a variable by turns) rarely stops before its token budget: the rest of
its tokens are spent on copies. A request that asks for it (`SamplingParams.loops`) ends
such a candidate once a block of up to `LONGEST_BLOCK` whole lines has been written that
many times in a row, as one cut off by `max_tokens` is ended ("length"), with the text
written so far. Lines are compared as written (indentation included, trailing spaces not);
blank lines between them do not count.

Code rarely repeats a block of lines exactly, three times in a row, with nothing between;
a chain of `elif` branches differs in its constants, so it is not a loop here.
"""

from __future__ import annotations

from dataclasses import dataclass

LONGEST_BLOCK = 6  # the most lines a repeated block may span


def loop_end(text: str, times: int, checked: int = 0) -> int | None:
    """Where `text` stops being worth decoding: the end of the first whole line with which
    some block of lines has come `times` times in a row; None when none has (or `times` is
    below 2). `checked` is a length of `text` already found loop-free, to start from."""
    if times < 2:
        return None
    lines: list[str] = []
    end = 0
    for raw in text.split("\n")[:-1]:  # the whole lines: the last part has no newline yet
        end += len(raw) + 1
        line = raw.rstrip()
        if not line:
            continue
        lines.append(line)
        if end <= checked:
            continue
        for block in range(1, LONGEST_BLOCK + 1):
            span = block * times
            if len(lines) < span:
                break
            tail = lines[-span:]
            if all(tail[i] == tail[i % block] for i in range(block, span)):
                return end
    return None


@dataclass
class LoopWatch:
    """The loop check of a text that grows (a candidate as it is decoded or streamed),
    each whole line looked at once, as it is completed."""

    times: int  # as `loop_end`'s: 0 never looks
    checked: int = 0  # the length of text already found free of loops

    def end(self, text: str) -> int | None:
        """`loop_end` of `text`, grown since the last call; None at once where no line
        was completed since."""
        if self.times < 2:
            return None
        last = text.rfind("\n")
        if last < self.checked:
            return None
        found = loop_end(text, self.times, self.checked)
        if found is None:
            self.checked = last + 1
        return found
