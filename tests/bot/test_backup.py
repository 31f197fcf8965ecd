"""The restore drill: fill, back up, destroy, restore, and every conversation, case and schedule is there and working."""

import os
import stat

import pytest
from sqlalchemy import create_engine, select, text

from bot.scheduler import lock_key_for
from storage.models import Case, CheckinSchedule, Conversation, Message, OutboxItem, Staff
from tests.conftest import POSTGRES_URL
from tests.handlers.test_ask import started
from tests.handlers.test_checkins import checkins_sent, due, participant
from tests.handlers.test_desk import Group, team  # noqa: F401 (fixture)
from tests.runner import utvag

QUESTION = "Hur söker jag en egen bostad?"


def snapshot(db) -> dict:
    """What the unit holds, decrypted: if the keys or a row were lost, this differs."""
    with db.sessions() as session:
        return {
            "cases": sorted((c.code, c.kind, c.state, c.summary, c.details) for c in session.scalars(select(Case))),
            "conversations": sorted((c.state, c.data) for c in session.scalars(select(Conversation))),
            "schedules": sorted((s.rule, s.state, s.next_due_at, s.last_sent_at) for s in session.scalars(select(CheckinSchedule))),
            "messages": sorted((m.id, m.direction, m.body) for m in session.scalars(select(Message))),
            "outbox": sorted((o.id, o.status, o.kind) for o in session.scalars(select(OutboxItem))),
            "staff": sorted(s.name for s in session.scalars(select(Staff))),
        }


def destroy(db) -> None:
    """The disk died: nothing of the database is left (PostgreSQL: an empty schema, as a new database has)."""
    db.engine.dispose()
    if db.kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            db.path.with_name(db.path.name + suffix).unlink(missing_ok=True)
    else:
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f"drop schema {db.schema} cascade"))
            connection.execute(text(f"create schema {db.schema}"))
        admin.dispose()


@pytest.mark.e2e  # starts `utvag`: CI runs it again under shifted clocks
def test_the_restore_drill(db, engine, clock, keys, tmp_path, team):  # noqa: F811
    group = Group(engine, db)
    chat, code = participant(engine, db, group)
    group.do("111", f"/incheckning {code} varje onsdag 10:00")
    clock.advance(hours=23)  # Wednesday 10:00 in Stockholm: the check-in goes out
    assert due(db, clock)["sent"] == 1
    asker = started(engine, address="5550111")
    asker.press("Ställ en fråga")
    asker.send(QUESTION)
    before = snapshot(db)
    assert len(before["cases"]) == 2 and before["schedules"] and before["conversations"]

    env = {**keys.env(), "UTVAG_DATABASE_URL": db.url}
    backup = tmp_path / "drill.backup"
    made = utvag("backup", str(backup), env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"Wrote a backup to {backup} (mode 0600).")
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert sorted(tmp_path.glob("drill.backup*")) == [backup]  # one file: no -wal, -shm or .partial beside it
    content = backup.read_bytes()
    assert QUESTION.encode() not in content and b"bostad" not in content  # still encrypted field by field
    again = utvag("backup", str(backup), env=env, cwd=tmp_path)
    assert again.returncode == 1 and "exists already" in again.stderr

    refused = utvag("restore", str(backup), env=env, cwd=tmp_path)
    assert refused.returncode == 1 and "holds data" in refused.stderr and "--force" in refused.stderr

    destroy(db)
    restored = utvag("restore", str(backup), env=env, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert snapshot(db) == before

    # Working, not only there: the check-in sent before the backup is not sent again; the next one goes once.
    assert due(db, clock)["sent"] == 0
    clock.advance(days=7)
    assert due(db, clock)["sent"] == 1
    assert checkins_sent(db) == 2
    # The participant's conversation is where it was: their answer to the check-in reaches staff.
    chat.send("Jag behöver prata med någon")
    assert any(code in post for post in group.posts())
    # And the question's case can be claimed and answered.
    question = next(case for case in before["cases"] if case[1] == "question")[0]
    group.do("111", choice=f"claim:{question}")
    with db.sessions() as session:
        assert session.scalar(select(Case.state).where(Case.code == question)) == "claimed"

    forced = utvag("restore", "--force", str(backup), env=env, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert snapshot(db) == before


@pytest.mark.e2e
def test_a_restore_over_a_running_service_or_of_the_wrong_kind_is_refused(db, keys, tmp_path):
    env = {**keys.env(), "UTVAG_DATABASE_URL": db.url}
    backup = tmp_path / "empty.backup"
    assert utvag("backup", str(backup), env=env, cwd=tmp_path).returncode == 0
    other = tmp_path / "other.backup"
    other.write_bytes(b"PGDMP" if db.kind == "sqlite" else b"SQLite format 3\x00")
    wrong = utvag("restore", str(other), env=env, cwd=tmp_path)
    assert wrong.returncode == 1 and "give a backup made from this kind of database" in wrong.stderr
    if db.kind == "postgresql":
        key = lock_key_for(db.schema)
        with db.engine.connect() as holder:  # what the scheduling process of a running service holds
            assert holder.execute(text("select pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            live = utvag("restore", str(backup), env=env, cwd=tmp_path)
            holder.execute(text("select pg_advisory_unlock(:key)"), {"key": key})
        assert live.returncode == 1 and "a running utvag uses this database" in live.stderr
    assert utvag("restore", str(backup), env=env, cwd=tmp_path).returncode == 0  # an empty database: nothing to lose


def test_progress_is_reported_up_to_the_whole(db, tmp_path):
    from bot.backup import backup

    seen: list[tuple[int, int]] = []
    backup(db.url, tmp_path / "progress.backup", lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert all(done <= total for done, total in seen)
