"""Which errors mean "the database is not there right now" (the API's 503), and the library's errors
crossing a process boundary whole (the API's worker processes pickle them back)."""

from __future__ import annotations

import pickle

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import exc

from gis.errors import DatabaseUnavailableError, ImportRefusedError, ServerError, StaleVersionError, UnknownLayerError
from gis.store.engine import database_fault

UNAVAILABLE = [
    psycopg.OperationalError("connection failed: Connection refused"),  # no SQLSTATE: the client's side
    errors.AdminShutdown("terminating connection due to administrator command"),  # 57P01, pg_ctl -m fast
    errors.CannotConnectNow("the database system is starting up"),  # 57P03
    errors.TooManyConnections("sorry, too many clients already"),  # 53300
    psycopg.InterfaceError("the connection is closed"),
    exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("server closed the connection unexpectedly")),
    exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    DatabaseUnavailableError("down"),
]
OTHER = [
    errors.UniqueViolation("duplicate key"),
    errors.QueryCanceled("canceling statement due to statement timeout"),  # 57014: the query, not the server
    exc.IntegrityError("INSERT", {}, errors.ForeignKeyViolation("fk")),
    exc.ProgrammingError("SELECT", {}, errors.UndefinedTable("no such table")),
    ValueError("not a database error"),
]


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda e: type(e).__name__)
def test_the_database_away_is_a_fault(error: BaseException) -> None:
    fault = database_fault(error)
    assert isinstance(fault, DatabaseUnavailableError) and fault.status == 503
    assert fault is error or "try again" in str(fault)  # the library's own is passed on as it is


@pytest.mark.parametrize("error", OTHER, ids=lambda e: type(e).__name__)
def test_anything_else_is_not(error: BaseException) -> None:
    assert database_fault(error) is None


def test_a_fault_further_down_the_chain_is_found() -> None:
    try:
        try:
            raise exc.OperationalError("COPY", {}, errors.AdminShutdown("terminating connection"))
        except exc.OperationalError as inner:
            raise ServerError("the import failed part-way") from inner
    except ServerError as outer:
        assert database_fault(outer) is not None


def test_library_errors_pickle_whole() -> None:
    for error in (
        StaleVersionError(7),
        UnknownLayerError("nope", ["compounds", "roads"]),
        ImportRefusedError("refused", report={"rows": 3}),
        DatabaseUnavailableError("down"),
    ):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error) and back.__dict__ == error.__dict__
    assert pickle.loads(pickle.dumps(StaleVersionError(7))).current == 7
