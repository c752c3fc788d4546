"""One exception family for every user-facing failure.

The CLI turns a `SafemilError` into one line on stderr and a non-zero exit, so
anything a user can get wrong (a file, a name, a shape, a config value) raises
one of these with a message that names the offending part.
"""


class SafemilError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class DatasetError(SafemilError):
    """A dataset file is missing, unreadable or inconsistent."""


class TaskError(SafemilError):
    """An unknown task or a task/dataset mismatch."""


class ConfigError(SafemilError):
    """A configuration value is invalid."""


class OutputError(SafemilError):
    """An output path (a run directory, a file to write) cannot be created or written."""
