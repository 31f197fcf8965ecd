"""Timers with a controllable clock: call reminders and re-alerts, promise warnings, escalation."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from handlers.catalogue import Catalogue
from handlers.digest import post_digest
from handlers.profile import load_profile
from handlers.timers import run_timers
from storage.models import Case, OutboxItem
from storage.staff import add_staff
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
    clock.advance(days=1)
    assert tick(db, clock) == {"reminded": 0, "realerted": 0, "warned": 0, "breached": 0, "escalated": 0, "unanswered": 0}
    with db.sessions.begin() as session:  # Wednesday morning's digest: an answered question is no promise at risk
        post_digest(session, Catalogue.load(), load_profile(), clock.now())
    assert "Löften i fara: 0." in group.posts()[-1]
    clock.advance(days=9)
    assert tick(db, clock) == {"reminded": 0, "realerted": 0, "warned": 0, "breached": 0, "escalated": 0, "unanswered": 0}


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


def test_only_cases_a_timer_can_act_on_are_loaded_among_hundreds_of_participants(db, clock):
    """Enrolled participants (claimed applications, their promise kept) and cases whose timers have all fired are
    never read into Python: only the few live timers, and they all fire."""
    now, ago = clock.now(), lambda **delta: clock.now() - timedelta(**delta)
    codes = iter(range(10_000))

    def case(kind: str, state: str = "open", **values: object) -> Case:
        defaults = {"created_at": ago(days=3), "updated_at": ago(days=1), "urgent": False, "relative": False}
        return Case(code=f"T-{next(codes):04d}", kind=kind, state=state, **{**defaults, **values})

    with db.sessions.begin() as session:
        sara = add_staff(session, name="Sara", role="lead", now=now, telegram_id="111")
        session.flush()
        done = [case("application", "claimed", due_at=ago(days=27), claimed_at=ago(days=29), acknowledged_at=ago(days=29),
                     enrolled_at=ago(days=28)) for _ in range(300)]  # fmt: skip
        done += [
            case("question", "claimed", due_at=ago(days=1), outcome="answered", acknowledged_at=ago(days=2)),
            case("question", due_at=ago(hours=1), warned_at=ago(hours=5), breached_at=ago(hours=1)),
            case("application", due_at=ago(hours=2), warned_at=ago(days=1), breached_at=ago(hours=2)),
            case("call", "claimed", due_at=now + timedelta(minutes=10), assigned_staff_id=sara.id, reminded_at=ago(minutes=5)),
            case("call", due_at=ago(hours=1), realerted_at=ago(hours=1)),
            case("call", "claimed", due_at=now + timedelta(hours=3), assigned_staff_id=sara.id),  # not yet
            case("danger", urgent=True, updated_at=ago(hours=1), acknowledged_at=ago(minutes=50)),
            case("danger", urgent=True, updated_at=ago(hours=1), escalated_at=ago(minutes=2)),  # again in three minutes
            case("danger", "closed", urgent=True, updated_at=ago(hours=1), closed_at=ago(minutes=30)),
            case("question", "closed", due_at=ago(hours=1), closed_at=ago(hours=2)),
        ]
        live = [
            case("call", "claimed", due_at=now + timedelta(minutes=10), assigned_staff_id=sara.id),  # reminded
            case("call", due_at=ago(minutes=30)),  # re-alerted
            case("application", created_at=ago(days=3), due_at=now + timedelta(hours=12)),  # warned: 63 h of 84 are at 9 h ago
            case("question", created_at=ago(days=2), due_at=ago(minutes=1), warned_at=ago(hours=12)),  # breached
            case("danger", urgent=True, updated_at=ago(minutes=6)),  # escalated
        ]
        session.add_all(done + live)
    live_ids = {item.id for item in live}

    loaded: list[int] = []
    with db.sessions.begin() as session:
        event.listen(session, "loaded_as_persistent", lambda _, instance: loaded.append(getattr(instance, "id", None)))
        fired = run_timers(session, Catalogue.load(), load_profile(), now, oncall_phone="+46709999999")
    assert fired == {"reminded": 1, "realerted": 1, "warned": 1, "breached": 1, "escalated": 1, "unanswered": 0}
    assert set(loaded) >= live_ids and len(loaded) <= 10, f"{len(loaded)} rows loaded"
    with db.sessions() as session:
        assert set(session.scalars(select(OutboxItem.case_id))) == live_ids
    with db.sessions.begin() as session:  # and once only
        assert not any(run_timers(session, Catalogue.load(), load_profile(), now).values())


def test_no_answer_to_the_danger_question_in_ten_minutes_alerts_staff_and_makes_every_case_urgent(engine, db, group, clock):
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("hur lång är kön?")
    chat.send("dom sa ja har till fredag annars")
    group.posts()
    clock.advance(minutes=9, seconds=59)
    assert tick(db, clock)["unanswered"] == 0
    clock.advance(seconds=1)
    assert tick(db, clock)["unanswered"] == 1
    assert tick(db, clock)["unanswered"] == 0  # once, however often the timers run
    with db.sessions() as session:
        cases = session.scalars(select(Case)).all()
        assert len(cases) == 1 and cases[0].urgent
        code = cases[0].code
    (alert,) = group.posts()
    assert alert == f"KOLLA {code}: inget svar på frågan om fara på 10 minuter. Ärendet är nu akut. Tryck Jag tar det nu."
    clock.advance(minutes=5)
    assert tick(db, clock)["escalated"] == 1  # and nobody acknowledging it reaches the on-call phone


def test_an_answered_danger_question_sets_no_timer(engine, db, group, clock):
    chat = started(engine)
    chat.send("dom sa ja har till fredag annars")
    chat.press("NEJ")
    clock.advance(minutes=30)
    assert tick(db, clock)["unanswered"] == 0
