"""Database engine, sessions and the declarative base.

SQLite (embedded default, WAL mode, foreign keys on) and PostgreSQL (psycopg 3)
are both first-class. Engines are created by the app factory or the CLI; a web
request's session commits once, after the endpoint and before its answer is sent, and
services only flush.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from tinhso.core.errors import Conflict, DatabaseUnavailable, DomainError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

    from tinhso.core.config import Settings

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both SQLite (which drops offsets) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime given; use timezone-aware UTC datetimes"
            raise ValueError(msg)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def build_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL with the platform's settings."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 10}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def engine_from_settings(settings: Settings) -> Engine:
    return build_engine(settings.effective_database_url)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


class NotSaved(DomainError):
    """The request's transaction could not be committed for another reason (a fault, not input)."""

    status = 500
    code = "not_saved"


def storage_problem(error: sa_exc.SQLAlchemyError) -> DomainError | None:
    """What to answer when the database refused a request's work (None: a fault, let it raise).

    A constraint the change breaks is a 409; a database that cannot be reached (connection
    lost, pool exhausted, SQLite locked past its busy timeout) a 503 with Retry-After.
    """
    if isinstance(error, sa_exc.IntegrityError):
        return Conflict(
            "Thay đổi xung đột với dữ liệu đã lưu nên chưa được lưu",
            "The change conflicts with stored data and was not saved",
        )
    unreachable = isinstance(
        error, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
    ) or (isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated)
    if unreachable:
        return DatabaseUnavailable()
    return None


def _brief(error: sa_exc.SQLAlchemyError) -> str:
    """The database's own first line of the error: never the statement's parameters."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"


def _roll_back(session: Session) -> None:
    try:
        session.rollback()
    except sa_exc.SQLAlchemyError as error:  # the connection is gone: close() discards it
        log.debug("request session: rollback failed: %s", error)


def request_session(request: Request) -> Iterator[Session]:
    """One session per request: commit once if the endpoint succeeded, roll back otherwise.

    Function-scoped (see :data:`DbSession`): the commit runs when the endpoint has returned
    and its answer is built, BEFORE the answer is sent, so a client told 200/201 can read its
    write at once, and a commit that fails is answered as a problem (409, 503 or 500), never
    as a success.
    """
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    session = factory()
    try:
        try:
            yield session
        except sa_exc.SQLAlchemyError as error:
            _roll_back(session)
            problem = storage_problem(error)
            if problem is None:
                raise
            log.warning(
                "request %s %s: database error: %s",
                request.method,
                request.url.path,
                _brief(error),
            )
            raise problem from error
        except BaseException:
            _roll_back(session)
            raise
        try:
            session.commit()
        except sa_exc.SQLAlchemyError as error:
            _roll_back(session)
            log.warning(
                "request %s %s: commit failed: %s", request.method, request.url.path, _brief(error)
            )
            # Any other failure of the commit is still a problem+json: nothing was saved.
            raise storage_problem(error) or NotSaved(
                "Không lưu được thay đổi; vui lòng thử lại",
                "The change was not saved; please retry",
            ) from error
    finally:
        session.close()


# scope="function": FastAPI runs the teardown (the commit) before sending the response; the
# default ("request") would run it after the response has left.
DbSession = Annotated[Session, Depends(request_session, scope="function")]
