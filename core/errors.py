"""Errors a user can act on.

Anything raised as a `LatentboardError` carries a message written for the person at the keyboard
(what is wrong, what to do). The CLI prints it as one line and the dashboard shows it on the page;
anything else escaping is a bug.
"""


class LatentboardError(Exception):
    """Base class for errors whose message is meant for the user."""


class DataError(LatentboardError):
    """A data source could not be read or does not have the expected shape."""


class ConfigError(LatentboardError):
    """A setting is out of range, unknown, or does not fit the data."""


class RunError(LatentboardError):
    """A run is missing, damaged, or in a state that does not allow the action."""


class TrainingDiverged(LatentboardError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class DiskError(LatentboardError):
    """A file could not be written: the disk is full, read-only, or the folder is not ours to write."""


class ClusterError(LatentboardError):
    """Work sent to a Ray cluster was lost there (a node or worker gone); what was finished is kept."""
