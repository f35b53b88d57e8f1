"""The one error type the CLI turns into a single line and exit code 2."""


class UsageError(Exception):
    """Bad input from a person: the message says what and where; nothing was changed."""
