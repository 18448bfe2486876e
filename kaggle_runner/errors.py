"""The one exception type for mistakes a user can fix (bad config, unknown version, refused request).
The CLI prints its message as one line on stderr and exits non-zero; anything else is a bug."""


class UserError(Exception):
    """A mistake the user can fix: main() prints its message as one line on stderr and exits with exit_code."""

    exit_code = 2
