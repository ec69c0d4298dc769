"""Every error gisplan raises on purpose, in one hierarchy; each class carries its HTTP status.

Each carries a message written for the person who has to act on it. They subclass a built-in
where one fits, so callers that only know Python's exceptions still catch them sensibly. The web
API maps them by class in one place (``api/errors.py``) using :attr:`GisError.status` and
:attr:`GisError.title`; the library itself knows nothing of HTTP beyond these two numbers and words.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GisError(Exception):
    """Base class of every error gisplan raises on purpose.

    Each crosses a process boundary whole (pickled with its arguments and attributes, whatever its
    ``__init__`` takes): the web API runs some work in worker processes.
    """

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad Request"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuilt, (type(self), self.args, dict(self.__dict__)))


def _rebuilt(cls: type[GisError], args: tuple[Any, ...], state: dict[str, Any]) -> GisError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


# -- the kinds (one per HTTP status the API answers with) ----------------------------------------
class InvalidRequestError(GisError, ValueError):
    """A request the library cannot carry out as asked (a wrong option, a standard without the rule)."""


class NotFoundError(GisError, KeyError):
    """A compound, facility type, run ... that does not exist; the message says what does."""

    status = 404
    title = "Not Found"

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class PermissionDeniedError(GisError, PermissionError):
    """The caller's role may not do this."""

    status = 403
    title = "Forbidden"


class ConflictError(GisError, RuntimeError):
    """The change collides with the stored state (a compound a project refers to, a duplicate)."""

    status = 409
    title = "Conflict"


class PreconditionFailedError(GisError, RuntimeError):
    """The caller's copy is stale (an ETag that no longer matches)."""

    status = 412
    title = "Precondition Failed"


class TooManyRequestsError(GisError, RuntimeError):
    """The request would pass a bound (the job queue is full); ``retry_after`` seconds is when to try again."""

    status = 429
    title = "Too Many Requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnavailableError(GisError, RuntimeError):
    """Something the request needs is not there right now (the database, installed assets)."""

    status = 503
    title = "Service Unavailable"


class ServerError(GisError, RuntimeError):
    """gisplan itself is misconfigured or its environment broke; not the caller's fault."""

    status = 500
    title = "Internal Server Error"


class TooLargeError(GisError, MemoryError):
    """The work asked for would not fit in this machine's memory: refused before it starts."""

    status = 507
    title = "Insufficient Storage"


# -- configuration and the store ---------------------------------------------------------------------
class OutsideReferenceError(ServerError):
    """An exported page still refers to something on the network (a bug: it would not work offline)."""


class RegistryError(ServerError, ValueError):
    """The layer definitions in ``layers/`` are invalid."""


class StandardError(InvalidRequestError):
    """A standard (or county rule file) that cannot be read or used."""


class UnknownLayerError(NotFoundError):
    """A layer id that the registry does not define."""

    def __init__(self, layer_id: str, valid: list[str]) -> None:
        self.layer_id = layer_id
        self.valid = valid
        super().__init__(f"unknown layer {layer_id!r}; valid layers: {', '.join(valid)}")


class DatabaseUnavailableError(UnavailableError):
    """The database cannot be reached or started."""


class ClusterError(ServerError):
    """The embedded PostgreSQL cluster could not be created, started or stopped."""


class WorkingCRSMismatchError(InvalidRequestError):
    """The configured working CRS differs from the one the database was created with."""


class AssetsMissingError(UnavailableError, FileNotFoundError):
    """The front-end assets (npm packages) are not installed: run ``make assets``."""


# -- backups ----------------------------------------------------------------------------------------
class BackupError(InvalidRequestError):
    """A dump or restore that cannot be made as asked (no schema to dump, a damaged dump, a dump of a
    newer schema, a target that is not a gisplan database); nothing was changed."""


class RestoreTargetNotEmptyError(ConflictError):
    """The restore target holds data: ``--replace`` (``replace=True``) overwrites it."""


class BackupToolError(ServerError):
    """``pg_dump`` or ``pg_restore`` is missing or failed; nothing was changed."""


# -- imports ----------------------------------------------------------------------------------------
class ImportRefusedError(InvalidRequestError):
    """A file was refused whole: unreadable, an impossible CRS, or (with ``strict``) any bad feature.

    Nothing was written. ``report`` holds what was found, when reading got that far.
    """

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class ImportFailedError(ServerError):
    """The database refused the write part-way; the transaction was rolled back, nothing changed."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class CRSError(ImportRefusedError):
    """A declared or missing CRS that cannot be right for the data."""


# -- the OGC engines --------------------------------------------------------------------------------
class QueryError(InvalidRequestError):
    """A query that cannot be run as asked (unknown field, bad CQL2, bad CRS)."""


class AsOfError(InvalidRequestError):
    """An ``as_of`` that cannot be read: not a date or a datetime with its offset."""


class NoRowHistoryError(AsOfError):
    """A layer asked for as of a date whose changes are recorded per import, not per row."""

    status = 422  # well-formed, but the audit cannot answer it


class TileError(InvalidRequestError):
    """A tile address outside the tile matrix set."""


class EditError(InvalidRequestError):
    """An edit whose feature cannot be stored (bad geometry, field or value)."""


class ReadOnlyLayerError(InvalidRequestError):
    """A layer written by its own commands only (evidence): no import and no OGC edit writes it."""

    status = 405
    title = "Method Not Allowed"


class StaleVersionError(PreconditionFailedError):
    """The feature changed since the caller read it (If-Match does not match)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the feature is at version {current}; read it again and reapply the change")
        self.current = current


class FeatureNotFoundError(NotFoundError):
    """No feature with that id in the layer."""


# -- users --------------------------------------------------------------------------------------------
class UserError(InvalidRequestError):
    """A user that cannot be added as asked."""


# -- the programme ------------------------------------------------------------------------------------
class ProgrammeError(InvalidRequestError):
    """A programme change that cannot be made as asked; nothing was written."""

    status = 422  # well-formed, but the programme's rules refuse it
    title = "Unprocessable Content"


class ProjectNotFoundError(NotFoundError):
    """No such compound, or no project for it in that year."""


class StageOrderError(ProgrammeError):
    """A stage would move backward, or a recorded date would change, outside a correction."""

    status = ConflictError.status
    title = ConflictError.title


class LockedMonthError(ProgrammeError):
    """The change is dated in (or before) a submitted month: only an admin's correction may make it."""

    status = ConflictError.status
    title = ConflictError.title


class LockedQuarterError(ProgrammeError):
    """The quarter's assessment was published: its scores stand as published (季度考核已发布锁定)."""

    status = ConflictError.status
    title = ConflictError.title


class EvidenceError(ProgrammeError):
    """An evidence item that cannot be added or withdrawn as asked (no reason, an unknown compound,
    stage or category); nothing was written."""


class FindingError(EvidenceError):
    """An inspection finding (督查问题) that cannot be opened or closed as asked (no what, unit or deadline,
    a deadline before it was found, closing without rectification evidence); nothing was written."""


class FindingClosedError(FindingError):
    """The finding was closed already: a closing stands."""

    status = ConflictError.status
    title = ConflictError.title


class AcceptanceRequiredError(ProgrammeError):
    """A stage that needs a passed 综合验收 (accepted), reported without one on or before its date."""

    status = ConflictError.status
    title = ConflictError.title


class FundsError(ProgrammeError):
    """A funds ledger entry that cannot be (a negative payment, an unknown fund source, a correction of an
    entry of another project or kind); nothing was written. A breach of a funding rule is not this: it is
    written and flagged."""


class AdminRequiredError(PermissionDeniedError):
    """Only an admin (or, where said, a planner) may do this (corrections, locking a month)."""
