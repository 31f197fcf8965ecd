"""Timers with a controllable clock: call reminders and re-alerts, promise warnings, escalation."""

import json

import pytest
from sqlalchemy import select

from handlers.catalogue import Catalogue
from handlers.profile import load_profile
from handlers.timers import run_timers
from storage.models import Case, OutboxItem
from tests.handlers.test_ask import started
from tests.handlers.test_desk import Group, case_by_kind, team  # noqa: F401 (fixture)


@pytest.fixture
def group(engine, db, team):  # noqa: F811
    return Group(engine, db)


def tick(db, clock, oncall: str | None = "+46709999999") -> dict[str, int]:
    with db.sessions.begin() as session:
        return run_timers(session, Catalogue.load(), load_profile(), clock.now(), oncall_phone=oncall)


def test_a_claimed_call_is_reminded_15_minutes_before_and_only_once(engine, db, group, clock):
    chat = started(engine)
    chat.press("Bli uppringd")
    chat.press("tisdag 1 december kl. 13–15")  # 12:00 UTC
    chat.send(kind="contact", phone="+46701234567")
    code = case_by_kind(db, "call").code
    group.do("111", choice=f"claim:{code}")
    group.posts()
    clock.advance(minutes=104)  # 11:44 UTC, 16 minutes before
    assert tick(db, clock)["reminded"] == 0
    clock.advance(minutes=2)
    assert tick(db, clock)["reminded"] == 1
    assert tick(db, clock)["reminded"] == 0
    (reminder,) = group.posts()
    assert reminder == f"Påminnelse: Sara ska ringa {code} 01/12 kl. 13.00."


def test_an_unclaimed_call_alerts_again_when_its_window_starts(engine, db, group, clock):
    chat = started(engine)
    chat.press("Bli uppringd")
    chat.press("tisdag 1 december kl. 13–15")
    chat.send(kind="contact", phone="+46701234567")
    group.posts()
    clock.advance(hours=2)
    assert tick(db, clock)["realerted"] == 1
    assert tick(db, clock)["realerted"] == 0
    assert group.posts()[0].startswith("Ingen har tagit samtalet")


def test_a_promise_warns_at_three_quarters_and_records_a_breach(engine, db, group, clock):
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("Hur lång är väntan?")
    case = case_by_kind(db, "question")
    span = case.due_at - case.created_at
    clock.advance(seconds=span.total_seconds() * 0.74)
    assert tick(db, clock)["warned"] == 0
    clock.advance(seconds=span.total_seconds() * 0.02)
    assert tick(db, clock)["warned"] == 1
    clock.advance(seconds=span.total_seconds() * 0.25)
    assert tick(db, clock)["breached"] == 1
    assert case_by_kind(db, "question").breached_at is not None


def test_an_answered_question_keeps_its_promise(engine, db, group, clock):
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("Hej?")
    code = case_by_kind(db, "question").code
    group.do("111", f"/svara {code} Hej! Vad kan vi hjälpa till med?")
    clock.advance(days=10)
    assert tick(db, clock) == {"reminded": 0, "realerted": 0, "warned": 0, "breached": 0, "escalated": 0}


def test_urgent_nobody_acknowledges_goes_to_the_oncall_phone_until_someone_does(engine, db, group, clock):
    chat = started(engine)
    chat.send("de kommer och ska döda mig")
    code = case_by_kind(db, "danger").code
    group.posts()
    clock.advance(minutes=4)
    assert tick(db, clock)["escalated"] == 0
    clock.advance(minutes=2)
    assert tick(db, clock)["escalated"] == 1
    assert tick(db, clock)["escalated"] == 0  # not again at once
    with db.sessions() as session:
        sms = session.scalar(select(OutboxItem).where(OutboxItem.channel == "sms", OutboxItem.target == "address"))
        payload = json.loads(sms.payload)
    assert payload["address"] == "+46709999999" and code in payload["text"]
    assert "döda" not in payload["text"]
    (reposted,) = group.posts()
    assert reposted.startswith(f"AKUT {code} har väntat utan svar")
    clock.advance(minutes=5)
    assert tick(db, clock)["escalated"] == 1  # again, every five minutes
    group.do("222", choice=f"ack:{code}")
    clock.advance(minutes=30)
    assert tick(db, clock)["escalated"] == 0
    with db.sessions() as session:
        assert session.scalar(select(Case.acknowledged_at)) is not None


def test_with_no_oncall_phone_the_group_still_gets_the_repost(engine, db, group, clock):
    chat = started(engine)
    chat.send("jag vill ta livet av mig")
    group.posts()
    clock.advance(minutes=6)
    assert tick(db, clock, oncall=None)["escalated"] == 1
    with db.sessions() as session:
        assert session.scalar(select(OutboxItem).where(OutboxItem.channel == "sms")) is None
