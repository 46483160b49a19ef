"""Deterministic code generation: everything in the generated files that needs no model."""
