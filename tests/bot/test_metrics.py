"""GET /metrics: what it counts, that nothing personal is in it, and who may read it."""

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from bot.channels.base import InboundMessage
from bot.metrics import Metrics, metrics_route
from handlers.turn import Inbound
from storage.models import Case, OutboxItem
from tests.fakes.telegram_api import FakeBotAPI
from tests.handlers.test_desk import team  # noqa: F401 (fixture)
from tests.live import LiveBot

TOKEN = "t" * 40


def samples(exposition: bytes | str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = exposition.decode() if isinstance(exposition, bytes) else exposition
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}  # fmt: skip


def _case(code: str, kind: str, now, **values) -> Case:
    return Case(code=code, kind=kind, state=values.pop("state", "open"), created_at=now, updated_at=now, **values)


def test_the_queue_the_outbox_and_the_promises_are_read_from_the_database(db, clock):
    now = clock.now()
    with db.sessions.begin() as session:
        session.add_all([
            _case("K-0001", "application", now),
            _case("K-0002", "application", now, warned_at=now),
            _case("K-0003", "danger", now, urgent=True),
            _case("K-0004", "call", now, urgent=True, acknowledged_at=now, breached_at=now),
            _case("K-0005", "question", now, state="closed", breached_at=now, urgent=True),
        ])  # fmt: skip
        for status, age, lane in (("pending", 90, 0), ("pending", 30, 1), ("pending", 10, 1), ("sent", 500, 0), ("uncertain", 5, 0)):
            at = now - timedelta(seconds=age)
            session.add(OutboxItem(channel="telegram", lane=lane, target="staff_group", status=status, attempts=0, next_attempt_at=at,
                                   created_at=at, payload='{"text": "x"}'))  # fmt: skip
    found = samples(Metrics(db.sessions, clock.now).exposition())
    assert found[("utvag_outbox_pending", (("lane", "0"),))] == 1
    assert found[("utvag_outbox_pending", (("lane", "1"),))] == 2
    assert found[("utvag_outbox_oldest_pending_seconds", ())] == 90
    assert found[("utvag_outbox_rows", (("status", "uncertain"),))] == 1
    assert found[("utvag_outbox_rows", (("status", "failed"),))] == 0
    assert found[("utvag_queue_cases", (("kind", "application"), ("urgent", "false")))] == 2
    assert found[("utvag_queue_cases", (("kind", "danger"), ("urgent", "true")))] == 1
    assert ("utvag_queue_cases", (("kind", "question"), ("urgent", "true"))) not in found  # closed
    assert found[("utvag_promises", (("state", "at_risk"),))] == 1
    assert found[("utvag_promises", (("state", "broken"),))] == 1
    assert found[("utvag_urgent_unacknowledged", ())] == 1


def test_an_empty_outbox_is_zero_old(db, clock):
    assert samples(Metrics(db.sessions, clock.now).exposition())[("utvag_outbox_oldest_pending_seconds", ())] == 0
    assert ("utvag_outbox_oldest_pending_seconds", ()) not in samples(Metrics().exposition())  # no database: counters only


def test_the_engine_counts_messages_time_errors_and_check_in_answers(db, clock, engine, monkeypatch):
    engine.metrics = metrics = Metrics(db.sessions, clock.now)
    engine.accept(InboundMessage("telegram", "1", "4242", Inbound(kind="text", text="/start")))
    assert engine.process_pending() == 1
    engine.accept(InboundMessage("telegram", "2", "4242", Inbound(kind="text", text="hej")))
    monkeypatch.setattr("bot.engine.respond", lambda turn: 1 / 0)
    assert engine.process_pending() == 1  # answered with an apology
    found = samples(metrics.exposition())
    assert found[("utvag_engine_seconds_count", ())] == 1
    assert found[("utvag_handler_errors_total", ())] == 1
    assert found[("utvag_checkins_answered_total", ())] == 0


def _app(**kwargs) -> Starlette:
    return Starlette(routes=[metrics_route(Metrics(), **kwargs)])


def _get(app: Starlette, client: str, **headers: str) -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://utvag") as http:
            return await http.get("/metrics", headers=headers)

    return asyncio.run(get())


def test_without_a_token_only_a_caller_on_this_machine_may_read_them():
    app = _app(token=None, behind_proxy=False)
    assert _get(app, "127.0.0.1").status_code == 200
    assert _get(app, "::1").status_code == 200
    refused = _get(app, "10.1.2.3")
    assert refused.status_code == 403 and "UTVAG_METRICS_TOKEN" in refused.text
    # Through a proxy on this machine, the caller is anyone on the internet.
    assert _get(app, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert _get(app, "127.0.0.1", Forwarded="for=203.0.113.9").status_code == 403
    assert _get(_app(token=None, behind_proxy=True), "127.0.0.1").status_code == 403


def test_with_a_token_whoever_sends_it_may_read_them_and_nobody_else():
    app = _app(token=TOKEN, behind_proxy=True)
    assert _get(app, "127.0.0.1").status_code == 401
    assert _get(app, "10.1.2.3", Authorization="Bearer wrong").status_code == 401
    allowed = _get(app, "10.1.2.3", Authorization=f"Bearer {TOKEN}", **{"X-Forwarded-For": "203.0.113.9"})
    assert allowed.status_code == 200 and "utvag_inbound_messages_total" in allowed.text


@pytest.mark.e2e
def test_the_running_bot_counts_a_conversation_and_its_health_names_nobody(tmp_path, keys, clock):
    person = 987654321
    with FakeBotAPI() as api, LiveBot(tmp_path, keys, api, clock) as live:
        api.inject_message(person, "/start", first_name="Kim", username="kim_secret")
        api.wait_for_sent(person, 1)
        url = f"http://127.0.0.1:{live.settings.http_port}/metrics"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the send is counted just after the stand-in has it
            body = httpx.get(url).text
            found = samples(body)
            if found.get(("utvag_outbound_messages_total", (("channel", "telegram"),))):
                break
            time.sleep(0.05)
        assert found[("utvag_inbound_messages_total", (("channel", "telegram"),))] == 1
        assert found[("utvag_outbound_messages_total", (("channel", "telegram"),))] >= 1
        assert found[("utvag_engine_seconds_count", ())] == 1
        assert str(person) not in body and "kim" not in body.lower()
        health = httpx.get(f"http://127.0.0.1:{live.settings.http_port}/healthz").json()
        assert health["status"] == "ok" and health["migrations"] == "ok"
        assert health["scheduler"]["role"] == "leader" and health["scheduler"]["last_tick_seconds_ago"] is not None
        assert health["last_success_seconds_ago"]["telegram"] is not None and health["outbox"]["oldest_pending_seconds"] >= 0
        assert str(person) not in str(health)


def test_check_ins_sent_and_answered_are_counted(db, clock, engine, team):  # noqa: F811
    from tests.handlers.test_checkins import Group, participant

    engine.metrics = metrics = Metrics(db.sessions, clock.now)
    group = Group(engine, db)
    chat, code = participant(engine, db, group)
    group.do("111", f"/incheckning {code} varje onsdag 10:00")
    clock.advance(hours=23)  # Wednesday 10:00 in Stockholm
    assert engine.frequent_work()["checkins_sent"] == 1
    chat.send("Det går bra")
    chat.send("Och en sak till")  # not an answer to a check-in any more
    found = samples(metrics.exposition())
    assert found[("utvag_checkins_sent_total", ())] == 1
    assert found[("utvag_checkins_answered_total", ())] == 1
