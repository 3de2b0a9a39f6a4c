"""User-facing errors: the CLI prints these as one line and exits with code 2."""


class GanforgeError(Exception):
    """A mistake the user can fix (bad name, path, flag or file). Message says what and how."""
