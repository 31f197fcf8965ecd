"""Check-ins with a controllable clock: set by staff, sent once, quiet hours, answers and silence reach staff."""

import pytest
from sqlalchemy import func, select

from handlers import checkins
from handlers.catalogue import Catalogue
from handlers.profile import load_profile
from storage.models import Case, CheckinSchedule, OutboxItem
from tests.handlers.test_ask import started
from tests.handlers.test_desk import Group, case_by_kind, team  # noqa: F401 (fixture)


@pytest.fixture
def group(engine, db, team):  # noqa: F811
    return Group(engine, db)


def applied(engine, db, address="31") -> tuple:
    """Someone who has applied by SMS, for themselves, for help with housing: their chat and case code."""
    chat = started(engine, channel="sms", address=f"+467000000{address}")
    chat.press("Ansök om stöd")
    chat.press("Mig själv")
    chat.press("Ja")
    chat.send("1")
    chat.press("Klar")
    chat.press("Skicka")
    with db.sessions() as session:
        return chat, session.scalar(select(Case.code).where(Case.contact_id == chat.contact_id))


def participant(engine, db, group, address="31") -> tuple:
    chat, code = applied(engine, db, address)
    group.do("111", f"/inskriv {code}")
    group.posts()
    return chat, code


def due(db, clock, **kwargs) -> dict:
    with db.sessions.begin() as session:
        return checkins.send_due(session, Catalogue.load(), load_profile(), clock.now(), **kwargs)


def checkins_sent(db) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "checkin"))


def test_staff_set_a_weekly_check_in_and_it_goes_out_once(engine, db, group, clock):
    chat, code = participant(engine, db, group)
    (confirmation,) = group.do("111", f"/incheckning {code} varje onsdag 10:00")
    assert confirmation == f"Incheckning för {code}: varje onsdag 10:00. Nästa: 2026-12-02 10:00."
    clock.advance(hours=23)  # Wednesday 09:00 UTC = 10:00 local
    assert due(db, clock)["sent"] == 1
    assert due(db, clock)["sent"] == 0
    assert checkins_sent(db) == 1
    with db.sessions() as session:
        assert session.scalar(select(CheckinSchedule.next_due_at)).isoformat() == "2026-12-09T09:00:00+00:00"


def test_the_message_reveals_nothing_and_answers_reach_staff(engine, db, group, clock):
    chat, code = participant(engine, db, group)
    group.do("111", f"/incheckning {code} varje onsdag 10:00")
    group.posts()
    clock.advance(hours=23)
    due(db, clock)
    with db.sessions() as session:
        from storage.models import Message

        text = session.scalars(select(Message.body).where(Message.direction == "out").order_by(Message.id.desc())).first()
    assert text == "Hej, det är SIG. Hur är läget?"
    (reply,) = chat.send("3")  # Vill prata
    assert reply.startswith("Tack. Vi hör av oss")
    (alert,) = group.posts()
    assert alert.startswith(f"Incheckning {code} vill ha kontakt")


def test_a_good_answer_is_thanked_and_bothers_nobody(engine, db, group, clock):
    chat, code = participant(engine, db, group)
    group.do("111", f"/incheckning {code} varje onsdag 10:00")
    group.posts()
    clock.advance(hours=23)
    due(db, clock)
    assert chat.send("1")[0].startswith("Tack för att du svarade")
    assert chat.labels == ["Till menyn", "Ställ en ny fråga", "Radera mina uppgifter"]  # and a way on, in the same message
    assert group.posts() == []


def test_down_across_the_due_time_it_is_sent_once_on_return_within_the_grace(engine, db, group, clock):
    chat, code = participant(engine, db, group)
    group.do("111", f"/incheckning {code} varje onsdag 10:00")
    clock.advance(hours=23 + 5)  # back five hours late
    assert due(db, clock)["sent"] == 1
    assert due(db, clock)["sent"] == 0


def test_down_for_longer_than_the_grace_the_check_in_is_skipped_not_sent_late(engine, db, group, clock):
    chat, code = participant(engine, db, group)
    group.do("111", f"/incheckning {code} varje onsdag 10:00")
    clock.advance(hours=23 + 7)
    done = due(db, clock)
    assert done["sent"] == 0 and done["skipped"] == 1
    assert checkins_sent(db) == 0


def test_quiet_hours_defer_to_the_morning(engine, db, group, clock):
    chat, code = participant(engine, db, group)
    (confirmation,) = group.do("111", f"/incheckning {code} varje tisdag 22:30")
    assert "Nästa: 2026-12-02 09:00" in confirmation  # Tuesday 22:30 is in quiet hours: Wednesday 09:00
    clock.advance(hours=11, minutes=30)  # Tuesday 22:30 local
    assert due(db, clock)["sent"] == 0
    clock.advance(hours=10, minutes=30)  # Wednesday 09:00 local
    assert due(db, clock)["sent"] == 1


def test_two_unanswered_check_ins_raise_a_silence_alert(engine, db, group, clock):
    chat, code = participant(engine, db, group)
    group.do("111", f"/incheckning {code} varje onsdag 10:00")
    group.posts()
    for _ in range(3):
        clock.advance(days=7) if checkins_sent(db) else clock.advance(hours=23)
        due(db, clock)
    posts = group.posts()
    assert posts == [f"{code} har inte svarat på 2 incheckningar i rad."]


def test_pause_resume_stop_and_editing_replaces(engine, db, group, clock):
    chat, code = participant(engine, db, group)
    group.do("111", f"/incheckning {code} varje onsdag 10:00")
    group.do("111", f"/incheckning {code} varje fredag 11:00")
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CheckinSchedule)) == 1
    assert group.do("111", f"/incheckning {code} paus") == [f"Incheckningarna för {code} är pausade."]
    clock.advance(days=8)
    assert due(db, clock)["sent"] == 0
    assert group.do("111", f"/incheckning {code} fortsätt")[0].startswith(f"Incheckningarna för {code} är igång igen.")
    assert group.do("111", f"/incheckning {code} stopp") == [f"Incheckningarna för {code} är stoppade."]


def test_only_participants_get_check_ins(engine, db, group):
    chat = started(engine)
    chat.press("Ställ en fråga")
    chat.send("Hej")
    code = case_by_kind(db, "question").code
    group.posts()
    assert group.do("111", f"/incheckning {code} varje onsdag 10:00") == [f"{code} är inte deltagare än. Skriv /inskriv {code} först."]


def test_incident_outreach_previews_then_sends_once_and_answers_are_prioritised(engine, db, group, clock):
    people = [participant(engine, db, group, address=str(40 + n)) for n in range(3)]
    with db.sessions() as session:
        codes = {case.code for case in session.scalars(select(Case))}
    (preview,) = group.do("111", "/incident")
    assert preview.startswith("Incidentutskick till 3 deltagare.")
    assert checkins_sent(db) == 0
    with db.sessions() as session:
        from storage.models import Incident

        incident_id = session.scalar(select(Incident.id))
    group.do("111", choice=f"incident:{incident_id}:confirm")
    group.do("222", choice=f"incident:{incident_id}:confirm")  # pressed twice: still once
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "incident")) == 3
    group.posts()
    chat = people[0][0]
    (reply,) = chat.send("JA")
    assert reply.startswith("Tack. Vi hör av oss")
    (alert,) = group.posts()
    assert alert.startswith("PRIORITERAT") and alert.split()[1] in codes
    assert people[1][0].send("nej")[0].startswith("Tack för att du svarade")
