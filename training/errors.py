"""Errors a user can fix by changing their input, as opposed to bugs."""


class DataError(ValueError):
    """Bad input data or configuration; the message is one line naming the column (and row)."""


class ModelError(RuntimeError):
    """A model that cannot be used: missing, corrupt, or built for another feature set."""
