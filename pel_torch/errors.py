"""The one error type users see: a single line that names the culprit and the fix."""


class PelError(ValueError):
    """Bad user input (file, column, value, config). Entry points print ``str(err)`` and exit 2."""


class DataError(PelError):
    """A film table or file that cannot be turned into the canonical table."""
