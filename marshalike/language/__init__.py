"""The spec language: reading, parsing and checking .mrsh text, and its diagnostics."""
