"""The tracker's exceptions and warnings.

One small hierarchy: everything raised on purpose derives from :class:`TrackerError`, and every
warning from :class:`TrackerWarning`. The Jupyter server maps these to HTTP status codes in one
place (``HTTP_STATUS``).
"""

from __future__ import annotations


class TrackerError(Exception):
    """Base class of every error the tracker raises on purpose."""


class UsageError(TrackerError, ValueError):
    """A programming error at set-up: a bad argument to ``init``, ``log`` before ``init``, ..."""


class ConfigError(TrackerError, ValueError):
    """A config value was changed without ``allow_val_change``, or cannot be stored."""


class RunNotFoundError(TrackerError, LookupError):
    """No run with this path exists in the store."""


class ArtifactNotFoundError(TrackerError, LookupError):
    """No artifact (collection, version or alias) matches the reference."""


class RunExistsError(TrackerError):
    """A run with this id already exists and ``resume="never"`` was asked for."""


class StoreError(TrackerError, OSError):
    """The store could not be read or written."""


class SchemaError(TrackerError):
    """The store on disk has a schema version this tracker cannot read."""


class QueryError(TrackerError, ValueError):
    """A filter, order or SQL query could not be evaluated."""


class MissingDependencyError(TrackerError, ImportError):
    """An optional package that a feature needs is not installed; the message names the extra
    that installs it (``pip install "tracker[lightning]"``)."""


class TrackerWarning(UserWarning):
    """A tracking problem that did not stop training (a dropped value, an unwritable store, ...).

    With the ``strict`` setting these are raised as :class:`TrackingFailure` instead.
    """


class TrackingFailure(TrackerError):
    """Raised instead of a :class:`TrackerWarning` when the ``strict`` setting is on."""


#: The one place errors meet HTTP: the server extension answers with these codes.
HTTP_STATUS: dict[type[BaseException], int] = {
    RunNotFoundError: 404,
    ArtifactNotFoundError: 404,
    UsageError: 400,
    QueryError: 400,
    ConfigError: 400,
    RunExistsError: 409,
    SchemaError: 500,
    StoreError: 500,
    # a file the store no longer has (a run deleted while it was read, a run's file that is not
    # there or lies outside the run's folder): what was asked for is not found
    FileNotFoundError: 404,
}


def http_status(exc: BaseException) -> int:
    """Return the HTTP status code for ``exc`` (500 for anything unexpected)."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500
