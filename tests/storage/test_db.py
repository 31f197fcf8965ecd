"""The SQLite files: the owner's alone, and deleted rows overwritten on every connection."""

import os
import stat

from sqlalchemy import text

from storage.db import make_engine, upgrade


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_folder_the_database_and_its_wal_and_shm_files_are_the_owners_alone(tmp_path, keys):
    old = os.umask(0o022)  # a usual umask: files would be -rw-r--r--
    try:
        folder = tmp_path / "var"
        engine = make_engine(f"sqlite:///{folder}/utvag.db")
        upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text("insert into job_runs (job, period, at) values ('x', 'y', '2026-12-01 10:00:00')"))
        with engine.connect() as connection:  # an open connection keeps the -wal and -shm files
            connection.execute(text("select count(*) from job_runs"))
            assert mode(folder) == 0o700
            for name in ("utvag.db", "utvag.db-wal", "utvag.db-shm"):
                assert mode(folder / name) == 0o600, name
        engine.dispose()
    finally:
        os.umask(old)


def test_a_database_made_world_readable_before_is_made_the_owners_alone(tmp_path, keys):
    path = tmp_path / "utvag.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.execute(text("select 1"))
    assert mode(path) == 0o600
    engine.dispose()


def test_every_connection_overwrites_deleted_content(tmp_path, keys):
    # Debian builds SQLite with secure_delete on by default; Python's own builds for macOS and Windows do not.
    # There this fails without the pragma; here it guards the setting, and the erasure test checks the files.
    engine = make_engine(f"sqlite:///{tmp_path}/utvag.db", pool_size=3)
    connections = [engine.connect() for _ in range(3)]
    assert [connection.exec_driver_sql("PRAGMA secure_delete").scalar() for connection in connections] == [1, 1, 1]
    for connection in connections:
        connection.close()
    engine.dispose()


def test_a_scrub_held_up_by_a_reader_gives_up_soon_and_is_owed_until_it_is_done(tmp_path, keys):
    import sqlite3

    from storage.db import SCRUB_BUSY_MS, scrub, scrub_owed

    engine = make_engine(f"sqlite:///{tmp_path}/utvag.db")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("insert into job_runs (job, period, at) values ('erased', 'y', '2026-12-01 10:00:00')"))
    reader = sqlite3.connect(tmp_path / "utvag.db", isolation_level=None)
    reader.execute("begin")
    reader.execute("select count(*) from job_runs").fetchone()  # a read transaction on the old snapshot
    with engine.begin() as connection:  # the erasure, after the reader's snapshot
        connection.execute(text("delete from job_runs"))
    assert scrub(engine) is False  # the WAL cannot be reset under the reader; it gives up after SCRUB_BUSY_MS
    assert SCRUB_BUSY_MS <= 5_000  # the engine waits that long, not the minute a write may wait
    assert scrub_owed(engine) is False  # still owed while the reader holds on
    reader.execute("commit")
    reader.close()
    assert scrub_owed(engine) is True  # the next tick finishes it
    assert (tmp_path / "utvag.db-wal").stat().st_size == 0
    assert scrub_owed(engine) is True  # and nothing is owed any more
    engine.dispose()
