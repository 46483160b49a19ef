"""Code that answers every call right and breaks what a user's plain `pytest` runs once
its tests have run: the verifier cannot see it (it changes no value, and nothing the
runner holds), so compile and check must find it where they run the test file under
pytest, with the plugins and options a user's run has."""

from __future__ import annotations

from attacks.specs import Attack

# pytest's cache plugin writes the ids of the tests it ran, after the last one, with
# `Path.write_text`: a run without the plugin passed, a user's ended in an internal error.
CACHE_WRITER_BROKEN = """\
import pathlib


def add(a, b):
    kind = pathlib.Path
    setattr(kind, "write_text", len)
    return a + b
"""
ATTACKS = (Attack("cache-writer-broken", "harness", CACHE_WRITER_BROKEN),)
