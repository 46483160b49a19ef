"""Decompiling: existing Python modules into .mrsh specs whose examples are facts.

Each top-level function becomes a `# func` section: its signature in the spec's English
type phrases (`phrases`), its docstring as the description (else a model's, labelled,
`describe`), and examples measured by running the existing function in the sandbox on
candidate inputs (its doctests, its calls in the project's tests, the constants it compares
its parameters with, boundary values of its parameter types), the few kept being those that
tell the most small variants of the code apart from it (`examples`). Modules decompiled
together use each other's specs where they import each other's functions (`uses`).
Dataclasses and NamedTuples in the signatures become `# type` sections. What cannot be a
spec (I/O, time, randomness, methods, generators, values no literal can write) is kept as
prose for a human, with the reason (`reading`). A round trip (`roundtrip`) compiles a spec
as `compile` would and runs the compiled code on the inputs the original answered.
"""
