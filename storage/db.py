"""Database engines and sessions: SQLite in WAL mode with a long busy timeout, or PostgreSQL."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_SECONDS = 5  # a server that is away answers no sooner; a health check must not hang for the OS's 2 minutes
# Errors whose driver message says why the database is away (refused, terminated, no space): kept in logs. Others
# (IntegrityError, DataError) can quote a row's values in their message, so only their class is logged.
OUTAGE_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)


class DatabaseMissing(Exception):
    """A command that must not make a database found none where the settings point."""


def describe_error(error: BaseException) -> str:
    """A database error as one line that carries no personal data: the driver's class and, for an outage, its reason.

    A psycopg connection failure reads `connection failed: connection to server at "127.0.0.1", port 5432 failed:
    Connection refused`; `terminating connection due to administrator command`; SQLite's `database is locked` or
    `unable to open database file`. They name the server and the fault, never a row."""
    original = getattr(error, "orig", None) or error
    name = type(original).__name__
    if isinstance(error, OUTAGE_ERRORS) or isinstance(original, OSError):
        lines = [line.strip() for line in str(original).splitlines() if line.strip()]
        reason = " ".join(lines[:2])[:240]
        return f"{name}: {reason}" if reason else name
    return name


# SQLite calls a missing table an OperationalError too; only these of its messages mean "not now".
SQLITE_OUTAGES = ("database is locked", "unable to open database file", "disk i/o error", "database or disk is full")


def is_outage(error: BaseException) -> bool:
    """The database cannot be reached now (as opposed to a query it refused): worth a "try again in a moment"."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, OUTAGE_ERRORS):
        return False
    original = getattr(error, "orig", None)
    if type(original).__module__ == "sqlite3":
        return str(original).lower().startswith(SQLITE_OUTAGES)
    return True


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(url: str, *, create: bool = True, **kwargs: Any) -> Engine:
    """An engine for the URL. With `create=False` a SQLite file that does not exist is an error, not a new database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None and not create and not path.exists():
            raise DatabaseMissing(f"there is no database at {path.resolve()}")
        if path is not None and not parsed.database.startswith("file:"):
            owner_only_file(path)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **kwargs.pop("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Python's sqlite3 waits 5 s for a lock by default; under a burst of writes that is not enough.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten with zeros, not left in free pages: an erased person stays erased in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def owner_only_folder(folder: Path) -> None:
    """Create the folder if needed; one Utväg creates is the owner's alone (0700)."""
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)  # mkdir's mode is filtered by the umask


def owner_only_file(path: Path) -> None:
    """The SQLite file, made 0600 before SQLite opens it: its -wal and -shm files take the same mode."""
    owner_only_folder(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists() and each.stat().st_mode & 0o077:
            each.chmod(0o600)


SCRUB_BUSY_MS = 2_000  # how long a scrub waits for readers: never the minute a write may wait, it runs in the engine
_scrub_owed: set[str] = set()  # databases whose WAL may still hold erased rows: the next full tick tries again


def scrub(engine: Engine) -> bool:
    """After an erasure: on SQLite, copy the WAL (which still holds the old rows) into the zeroed file and truncate
    it. True when done; False when a reader held it past SCRUB_BUSY_MS (then `scrub_owed`, at the scheduler's next
    full tick, tries again). PostgreSQL keeps dead rows until VACUUM: see docs/operator.md."""
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as connection:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={SCRUB_BUSY_MS}")
        try:
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    done = not (busy and busy[0])
    (_scrub_owed.discard if done else _scrub_owed.add)(str(engine.url))
    return done


def scrub_owed(engine: Engine) -> bool:
    """A scrub that a reader held up, tried again; True when nothing is owed."""
    return scrub(engine) if str(engine.url) in _scrub_owed else True


def insert_ignoring_duplicates(session: Session, model: type, index_elements: list[str], **values: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when the unique key existed.
    The database's unique constraint decides, not a read, so it holds under concurrency (both dialects)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=index_elements)
    return session.execute(statement.returning(model.id)).scalar()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def migration_state(engine: Engine) -> tuple[str | None, str]:
    """(the database's revision, the newest this version ships); they differ until `utvag db upgrade` has run."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, _head()


@functools.cache
def _head() -> str:
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head() or ""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations shipped with the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
