"""The exceptions marshalike raises; the CLI turns each into a one-line message.

`exit_code` follows the convention of every command (README, "Exit status"): 1 when the
work ran and did not succeed, 2 when the input or the settings are wrong.
"""


class MarshalikeError(Exception):
    """Base of every error marshalike reports to a user."""

    exit_code = 1


class SpecError(MarshalikeError):
    """A spec could not be read or has errors; carries its diagnostics."""

    exit_code = 2

    def __init__(self, message: str, diagnostics: tuple = ()) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


class ConfigError(MarshalikeError):
    """Settings are missing, unknown or contradictory."""

    exit_code = 2


class BackendError(MarshalikeError):
    """A model backend failed to produce candidates."""


class VerificationError(MarshalikeError):
    """Generated code could not be run against its tests."""
