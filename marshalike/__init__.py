"""marshalike: compile English-like .mrsh specs with examples into tested Python."""

__version__ = "0.1.0"
