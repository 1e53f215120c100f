"""The one exception type for problems a user can fix; its message says what was wrong and how to fix it."""


class UserError(Exception):
    """Raised for bad data, paths, checkpoints or arguments. CLIs and the app print the message, not a traceback."""
