"""marshalike's local inference runtime (needs the `local` extra: torch)."""
