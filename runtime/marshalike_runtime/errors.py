"""The runtime's own errors. The runtime stands alone (it never imports the compiler); a
program that hosts it — the compiler's local backend, `marshalike serve` — turns these
into its own messages."""


class ModelFileError(Exception):
    """A model's files are missing, malformed, or of a kind the runtime does not run: the
    error a user fixes by pointing at another model or reinstalling one."""


class QuantError(ValueError):
    """A quantized mode this torch build or device cannot run."""
