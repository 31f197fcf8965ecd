"""What /healthz reports: the database and each channel; a monitor polling hard costs one probe a second."""

import asyncio

from sqlalchemy import create_engine, event

from bot.health import PROBE_CACHE, Health


def test_the_database_and_the_channels_make_the_answer(tmp_path):
    now = [0.0]
    database = create_engine(f"sqlite:///{tmp_path}/h.db")
    probes = []
    event.listen(database, "before_cursor_execute", lambda *args: probes.append(1))
    health = Health(database, monotonic=lambda: now[0])
    for name in ("webchat", "telegram"):
        health.channel_starting(name)
    assert asyncio.run(health.report()) == (False, {"status": "unavailable", "database": "ok",
                                                   "channels": {"telegram": "unavailable", "webchat": "unavailable"}})  # fmt: skip
    assert health.channel_ready("telegram")  # starting: messages may go to it; only a failed start holds them
    health.channel_up("webchat")
    health.channel_down("telegram", "NetworkError")
    assert not health.channel_ready("telegram") and health.failures["telegram"] == 1
    health.channel_up("telegram")
    healthy, body = asyncio.run(health.report())
    assert healthy and body == {"status": "ok", "database": "ok", "channels": {"telegram": "ok", "webchat": "ok"}}
    asked = len(probes)
    for _ in range(50):
        asyncio.run(health.report())
    assert len(probes) == asked  # within a second: the last answer
    now[0] += PROBE_CACHE
    asyncio.run(health.report())
    assert len(probes) == asked + 1
    database.dispose()


def test_a_database_that_is_away_is_reported_with_its_reason_kept_for_the_log():
    health = Health(create_engine("postgresql+psycopg://utvag:hemligt@127.0.0.1:1/utvag"))
    problem = asyncio.run(health.database_problem())
    assert problem is not None and problem.startswith("OperationalError: connection failed") and "hemligt" not in problem
    healthy, body = asyncio.run(health.report())
    assert not healthy and body["database"] == "unavailable" and "Operational" not in str(body)  # no reasons on a public URL


def test_the_details_say_how_the_service_is_doing_and_nothing_about_anyone(db, clock):
    from datetime import timedelta

    from storage.models import OutboxItem

    health = Health(db.engine, monotonic=lambda: 0.0, now=clock.now)
    health.channel_starting("telegram")
    health.channel_starting("sms")
    health.channel_up("telegram")
    ticked = clock.now() - timedelta(seconds=2)
    health.scheduler = lambda: (True, ticked)
    at = clock.now() - timedelta(seconds=75)
    with db.sessions.begin() as session:
        session.add(OutboxItem(channel="sms", lane=0, target="staff", status="pending", attempts=0, next_attempt_at=at, created_at=at,
                               payload='{"text": "Ring +46701234567"}'))  # fmt: skip
    clock.advance(seconds=10)
    healthy, body = asyncio.run(health.report())
    assert not healthy and body["status"] == "unavailable"  # sms has not started: the 503 is as before
    assert body["migrations"] == "ok"
    assert body["scheduler"] == {"role": "leader", "last_tick_seconds_ago": 12}
    assert body["outbox"] == {"oldest_pending_seconds": 85}
    assert body["last_success_seconds_ago"] == {"sms": None, "telegram": 10}
    assert "46701234567" not in str(body)


def test_migrations_behind_are_reported(tmp_path, keys, clock):
    from storage.db import make_engine, upgrade

    database = make_engine(f"sqlite:///{tmp_path}/old.db")
    upgrade(database, "0008")
    healthy, body = asyncio.run(Health(database, now=clock.now).report())
    assert healthy and body["migrations"] == "behind" and body["outbox"] == {"oldest_pending_seconds": 0}
    database.dispose()
