"""`utvag backup` and `utvag restore`: a consistent copy of the database, still encrypted at field level, owner-only.

SQLite through its online backup API (safe while the service writes, WAL mode); PostgreSQL through `pg_dump -Fc` of
the deployment's schema (the one UTVAG_DATABASE_URL's search_path names, `public` by default) and `pg_restore` into it.
The password is handed to pg_dump in its environment, never on its command line, where `ps` would show it."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlencode

from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import URL, make_url

from bot.files import create_private
from bot.scheduler import lock_key_for
from storage.db import DatabaseMissing, make_engine, sqlite_path, upgrade
from storage.models import Base

Progress = Callable[[int, int], None]  # (done, total) in pages (SQLite) or objects (PostgreSQL)
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
PAGES_PER_STEP = 1024
# Rows here say nothing about whether people's data is in the database: a started service writes them at once.
BOOKKEEPING = {"key_canary", "job_runs"}
SCHEMA_ENTRY = re.compile(r"^\d+; \d+ \d+ SCHEMA - (\S+) ")
TABLE_ENTRY = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ")


class BackupError(Exception):
    """One sentence: what went wrong and what to do."""


def backup(url: str, path: Path, progress: Progress = lambda done, total: None) -> None:
    """Write a consistent copy of the database at `url` to the new file `path` (mode 0600)."""
    if path.exists():
        raise BackupError(f"{path} exists already: choose a new file name (for example with the date in it), or move the old one away.")
    partial = path.with_name(path.name + ".partial")
    descriptor = _private_file(partial)
    try:
        if sqlite_path(url) is not None:
            os.close(descriptor)
            _sqlite_backup(url, partial, progress)
        else:
            with os.fdopen(descriptor, "wb") as out:
                _pg_dump(url, out, progress)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def restore(url: str, path: Path, *, force: bool, progress: Progress = lambda done, total: None) -> None:
    """Load the backup at `path` into the database at `url`, refusing one that holds data unless `force`; then migrate it."""
    try:
        with path.open("rb") as file:
            magic = file.read(16)
    except OSError as exc:
        raise BackupError(f"the backup {path} cannot be read ({exc.strerror}): check the path and that you may read it.") from None
    sqlite = sqlite_path(url) is not None
    if sqlite and not magic.startswith(SQLITE_MAGIC) or not sqlite and not magic.startswith(PG_MAGIC):
        kind = "a SQLite file" if magic.startswith(SQLITE_MAGIC) else "a pg_dump file" if magic.startswith(PG_MAGIC) else "no backup"
        want = "SQLite" if sqlite else "PostgreSQL"
        raise BackupError(f"{path} is {kind}, and UTVAG_DATABASE_URL is a {want} database: give a backup made from this kind of database.")
    if sqlite:
        _sqlite_restore(url, path, force, progress)
    else:
        _pg_restore(url, path, force, progress)
    engine = make_engine(url, create=False)
    try:
        upgrade(engine)  # a backup from an older version is brought to this version's schema
    finally:
        engine.dispose()


def holds_data(engine: Engine) -> bool:
    """Whether any table of ours has a row people or staff put there."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in present and table.name not in BOOKKEEPING:
                if connection.scalar(select(func.count()).select_from(select(table).limit(1).subquery())):
                    return True
    return False


def _private_file(path: Path) -> int:
    try:
        return create_private(path)
    except FileExistsError:
        raise BackupError(f"{path} exists (an interrupted backup?): remove it and try again.") from None
    except OSError as exc:
        raise BackupError(f"{path} cannot be written ({exc.strerror}): check the folder and that you may write there.") from None


# -- SQLite ------------------------------------------------------------------------------------------


def _sqlite_backup(url: str, target: Path, progress: Progress) -> None:
    source_path = sqlite_path(url)
    assert source_path is not None
    if not source_path.exists():
        raise DatabaseMissing(f"there is no database at {source_path.resolve()}")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination, pages=PAGES_PER_STEP, progress=lambda _status, remaining, total: progress(total - remaining, total))
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        destination.close()
        source.close()


def _sqlite_restore(url: str, backup_path: Path, force: bool, progress: Progress) -> None:
    target = sqlite_path(url)
    assert target is not None
    if target.exists() and not force:
        engine = make_engine(url, create=False)
        try:
            if holds_data(engine):
                raise BackupError(f"the database at {target.resolve()} holds data: stop the service and give --force to replace it, "
                                  "or point UTVAG_DATABASE_URL at an empty one.")  # fmt: skip
        finally:
            engine.dispose()
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.close(_private_file(target))
    source = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
    destination = sqlite3.connect(target, timeout=60)
    try:
        source.backup(destination, pages=PAGES_PER_STEP, progress=lambda _status, remaining, total: progress(total - remaining, total))
        destination.execute("PRAGMA journal_mode=WAL")
    finally:
        destination.close()
        source.close()


# -- PostgreSQL ----------------------------------------------------------------------------------------


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment that carries the password."""
    parsed: URL = make_url(url)
    env = {**os.environ}
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    user = quote(parsed.username or "", safe="")
    host = quote(parsed.host or "", safe="")
    port = f":{parsed.port}" if parsed.port else ""
    query = urlencode([(key, value) for key, values in parsed.query.items()
                       for value in ((values,) if isinstance(values, str) else values)])  # fmt: skip
    uri = f"postgresql://{user + '@' if user else ''}{host}{port}/{quote(parsed.database or '', safe='')}"
    return uri + (f"?{query}" if query else ""), env


def _schema(engine: Engine) -> str:
    """The deployment's schema: the first of the search_path (it may not exist yet, in a database being restored)."""
    with engine.connect() as connection:
        current = connection.scalar(text("select current_schema()"))
        if current:
            return str(current)
        path = str(connection.scalar(text("show search_path")))
    names = [name.strip().strip('"') for name in path.split(",") if name.strip() and name.strip() != '"$user"']
    return names[0] if names else "public"


def _run(command: list[str], env: dict[str, str], what: str, total: int, progress: Progress, stdout: object = None) -> None:
    """Run pg_dump or pg_restore with --verbose, counting its lines as progress; its last error line becomes the sentence."""
    try:
        process = subprocess.Popen(command, env=env, stdout=stdout if stdout is not None else subprocess.DEVNULL,  # noqa: S603
                                   stderr=subprocess.PIPE, text=True)  # fmt: skip
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed: install the PostgreSQL client (apt-get install postgresql-client-15).") from None
    done, errors = 0, []
    assert process.stderr is not None
    for line in process.stderr:
        if ": error: " in line or line.startswith(("pg_dump: error", "pg_restore: error")):
            errors.append(line.strip())
        elif ("dumping contents of table" in line or "processing item" in line or "creating" in line) and done < total:
            done += 1
            progress(done, total)
    if process.wait() != 0:
        reason = errors[-1].split("error: ", 1)[-1][:200] if errors else f"exit code {process.returncode}"
        raise BackupError(f"{what} failed ({reason}): check that the server runs and that the database user may read and write it.")
    progress(total, total)


def _pg_dump(url: str, out, progress: Progress) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(url, create=False)
    try:
        schema = _schema(engine)
        tables = len(inspect(engine).get_table_names(schema=schema))
    finally:
        engine.dispose()
    uri, env = _libpq(url)
    _run(["pg_dump", "--format=custom", "--verbose", "--no-owner", "--no-privileges", f"--schema={schema}", f"--dbname={uri}"],
         env, "pg_dump", max(tables, 1), progress, stdout=out)  # fmt: skip


def _pg_restore(url: str, backup_path: Path, force: bool, progress: Progress) -> None:
    uri, env = _libpq(url)
    listing = subprocess.run(["pg_restore", "--list", str(backup_path)], env=env, capture_output=True, text=True)  # noqa: S603
    if listing.returncode != 0:
        raise BackupError(f"{backup_path} cannot be read by pg_restore: give a file made by `utvag backup` or `pg_dump -Fc`.")
    schemas = {match.group(1) for line in listing.stdout.splitlines() if (match := SCHEMA_ENTRY.match(line))}
    engine = make_engine(url, create=False)
    try:
        schema = _schema(engine)
        if schemas and schema not in schemas:
            raise BackupError(f"the backup holds schema {', '.join(sorted(schemas))}, and UTVAG_DATABASE_URL uses schema {schema}: "
                              "set its search_path to the backup's schema.")  # fmt: skip
        with engine.begin() as connection:
            exists = connection.scalar(text("select exists(select 1 from pg_namespace where nspname = :name)"), {"name": schema})
            if not force:
                key = lock_key_for(schema)  # held by the process that runs the schedules
                held = connection.scalar(
                    text("select exists(select 1 from pg_locks where locktype = 'advisory' and granted and classid = :high "
                         "and objid = :low and objsubid = 1)"),
                    {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
                )  # fmt: skip
                if held:
                    raise BackupError("a running utvag uses this database: stop the service (systemctl stop utvag) before restoring, "
                                      "or give --force.")  # fmt: skip
            if not exists:
                connection.execute(text(f'create schema "{schema}"'))
            in_backup = {match.group(2) for line in listing.stdout.splitlines() if (match := TABLE_ENTRY.match(line))}
        if not force and holds_data(engine):
            raise BackupError(f"the database's schema {schema} holds data: stop the service and give --force to replace it, "
                              "or restore into an empty database.")  # fmt: skip
        # Tables the backup does not have (a newer version's) would stop its migrations after the restore: the database
        # holds no data here, or --force said to replace it.
        with engine.begin() as connection:
            for table in set(inspect(connection).get_table_names(schema=schema)) - in_backup:
                connection.execute(text(f'drop table if exists "{schema}"."{table}" cascade'))
    finally:
        engine.dispose()
    # The schema is there now (a fresh database has `public`): restore what is in it, not the schema itself.
    entries = [line for line in listing.stdout.splitlines() if line and not line.startswith(";") and " SCHEMA - " not in line]
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as chosen:
        chosen.write("\n".join(entries) + "\n")
    try:
        # --clean: what the backup holds replaces what is there (empty tables of a database made by `db upgrade`, or
        # with --force the data), in the one transaction that loads the backup, so a failure leaves it as it was.
        command = ["pg_restore", "--verbose", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                   "--exit-on-error", f"--use-list={chosen.name}", f"--dbname={uri}", str(backup_path)]  # fmt: skip
        _run(command, env, "pg_restore", max(len(entries), 1), progress)
    finally:
        os.unlink(chosen.name)
