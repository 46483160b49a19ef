"""marshalike: compile English-like .mrsh specs with examples into tested Python."""

from marshalike import parse_lock

parse_lock.install()

__version__ = "0.1.0"
