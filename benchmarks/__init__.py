"""Tools that measure marshalike: its output's quality, its gate's price, its speed.

Run each from the repository root as a module (`python -m benchmarks.quality`); the tests
import them the same way (pytest's `pythonpath` is the root). They use marshalike's public
API only (benchmarks/README.md says which).
"""
