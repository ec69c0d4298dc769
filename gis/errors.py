"""Exceptions of the gisplan library.

Each carries a message written for the person who has to act on it. They subclass a built-in
where one fits, so callers that only know Python's exceptions still catch them sensibly.
"""

from __future__ import annotations


class GisError(Exception):
    """Base class of every error gisplan raises on purpose."""


class RegistryError(GisError, ValueError):
    """The layer definitions in ``layers/`` are invalid."""


class UnknownLayerError(GisError, KeyError):
    """A layer id that the registry does not define."""

    def __init__(self, layer_id: str, valid: list[str]) -> None:
        self.layer_id = layer_id
        self.valid = valid
        super().__init__(f"unknown layer {layer_id!r}; valid layers: {', '.join(valid)}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class DatabaseUnavailableError(GisError, RuntimeError):
    """The database cannot be reached or started."""


class ClusterError(GisError, RuntimeError):
    """The embedded PostgreSQL cluster could not be created, started or stopped."""


class ImportRefusedError(GisError, ValueError):
    """A file was refused whole: unreadable, an impossible CRS, or (with ``strict``) any bad feature.

    Nothing was written. ``report`` holds what was found, when reading got that far.
    """

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class ImportFailedError(GisError, RuntimeError):
    """The database refused the write part-way; the transaction was rolled back, nothing changed."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class CRSError(ImportRefusedError):
    """A declared or missing CRS that cannot be right for the data."""


class WorkingCRSMismatchError(GisError, ValueError):
    """The configured working CRS differs from the one the database was created with."""


class NotFoundError(GisError, KeyError):
    """A compound, facility type, run ... that does not exist; the message says what does."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class InvalidRequestError(GisError, ValueError):
    """A request the library cannot carry out as asked (a wrong option, a standard without the rule)."""
