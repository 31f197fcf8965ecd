"""Incident outreach at scale, as the lead does it: /incident, confirm, and the scheduler queues the rest in chunks.

The confirmation queues a first chunk only, so the staff action (and the polling loop that waits for it) stays short;
every scheduler tick queues further chunks, each its own transaction. Who gets it is fixed when confirm is pressed."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from sqlalchemy import select, update

from bot.channels.base import InboundMessage
from bot.engine import Engine as ConversationEngine
from handlers import incident
from handlers.catalogue import Catalogue
from handlers.profile import load_profile
from handlers.turn import Inbound
from storage.cases import open_case
from storage.models import AuditEvent, Case, Contact, Incident, OutboxItem
from tests.handlers.test_checkins import applied, participant
from tests.handlers.test_desk import Group, team  # noqa: F401 (fixture)


@pytest.fixture
def group(engine, db, team):  # noqa: F811
    return Group(engine, db)


def enrol_people(engine, count: int) -> None:
    """Participants on Telegram as the engine leaves them: each wrote once, then an enrolled application."""
    for n in range(count):
        engine.accept(InboundMessage("telegram", f"seed-{n}", str(500_000 + n), Inbound(kind="text", text="hej")))
    engine.process_pending(limit=count + 10)
    with engine.sessions.begin() as session:
        for contact_id in session.scalars(select(Contact.id)):
            case = open_case(session, contact_id=contact_id, kind="application", now=engine.clock.now())
            case.enrolled_at, case.state = engine.clock.now(), "claimed"


def press_incident(group, db, who: str = "111", area: str = "") -> tuple[int, str]:
    """The lead writes /incident; returns the draft's id and the preview."""
    (preview,) = group.do(who, f"/incident {area}".strip())
    with db.sessions() as session:
        return session.scalar(select(Incident.id).order_by(Incident.id.desc())), preview


def outreach(db) -> Counter:
    """How many outreach messages each person has been queued."""
    with db.sessions() as session:
        return Counter(session.scalars(select(OutboxItem.contact_id).where(OutboxItem.kind == "incident")))


def tick(engine) -> dict[str, int]:
    """One scheduler tick."""
    return engine.scheduled_work(timedelta(minutes=5), None)


def delivered(db, clock) -> None:
    """What the dispatcher does with the outreach queued so far: it goes out."""
    with db.sessions.begin() as session:
        session.execute(update(OutboxItem).where(OutboxItem.kind == "incident", OutboxItem.status == "pending")
                        .values(status="sent", sent_at=clock.now()))  # fmt: skip


def progress(group) -> list[str]:
    return [post for post in group.posts() if post.startswith("Utskick ")]  # the morning digest may come with a tick


def state(db, incident_id: int) -> str:
    with db.sessions() as session:
        return session.get(Incident, incident_id).state


def test_confirm_queues_a_first_chunk_at_once_and_the_scheduler_the_rest_each_person_once(engine, db, group, clock):
    enrol_people(engine, 250)
    incident_id, preview = press_incident(group, db)
    assert preview.startswith("Incidentutskick till 250 deltagare.")
    assert group.do("111", choice=f"incident:{incident_id}:confirm") == ["Utskicket har börjat: 250 mottagare."]
    assert sum(outreach(db).values()) == incident.FIRST_CHUNK  # the first go at once; the rest waits for the scheduler
    clock.advance(seconds=1)
    assert tick(engine)["incident_queued"] == 250 - incident.FIRST_CHUNK
    people = outreach(db)
    assert len(people) == 250 and set(people.values()) == {1}
    assert tick(engine)["incident_queued"] == 0
    assert progress(group) == [f"Utskick {incident_id}: 0 skickade, 0 misslyckade, 0 svar av 250."]
    delivered(db, clock)
    tick(engine)
    assert progress(group) == [f"Utskick {incident_id}: 250 skickade, 0 misslyckade, 0 svar av 250."]
    assert state(db, incident_id) == "done"


def test_progress_counts_against_everyone_at_confirm_and_is_not_done_while_chunks_remain(engine, db, group, clock):
    enrol_people(engine, 250)
    incident_id, _ = press_incident(group, db)
    group.do("111", choice=f"incident:{incident_id}:confirm")
    delivered(db, clock)  # the first chunk is out before the rest is queued
    with db.sessions.begin() as session:
        incident.report_progress(session, Catalogue.load(), clock.now())
    assert progress(group) == [f"Utskick {incident_id}: {incident.FIRST_CHUNK} skickade, 0 misslyckade, 0 svar av 250."]
    assert state(db, incident_id) == "sending"
    tick(engine)
    delivered(db, clock)
    tick(engine)
    assert progress(group)[-1] == f"Utskick {incident_id}: 250 skickade, 0 misslyckade, 0 svar av 250."
    assert state(db, incident_id) == "done"


def test_who_gets_it_is_fixed_at_confirm_enrolled_later_no_opted_out_meanwhile_no(engine, db, group, clock):
    enrol_people(engine, 250)
    stopper, _ = participant(engine, db, group, address="41")  # a participant at confirm, in a later chunk
    applicant, code = applied(engine, db, address="42")  # applied, not yet a participant
    group.posts()
    incident_id, preview = press_incident(group, db)
    assert preview.startswith("Incidentutskick till 251 deltagare.")
    assert group.do("111", choice=f"incident:{incident_id}:confirm") == ["Utskicket har börjat: 251 mottagare."]
    assert sum(outreach(db).values()) == incident.FIRST_CHUNK
    clock.advance(minutes=1)
    group.do("111", f"/inskriv {code}")  # enrolled while the outreach is still being queued
    assert stopper.send("stoppa")[0].startswith("Du får inga fler meddelanden")
    tick(engine)
    people = outreach(db)
    assert len(people) == 250 and set(people.values()) == {1}
    assert applicant.contact_id not in people and stopper.contact_id not in people
    delivered(db, clock)
    group.posts()
    tick(engine)
    assert progress(group) == [f"Utskick {incident_id}: 250 skickade, 0 misslyckade, 0 svar av 251."]
    assert state(db, incident_id) == "done"  # the one who opted out does not keep it open for ever


def test_cancel_after_confirm_and_a_second_confirm_change_nothing(engine, db, group, clock):
    enrol_people(engine, 250)
    incident_id, _ = press_incident(group, db)
    group.do("111", choice=f"incident:{incident_id}:confirm")
    assert group.do("222", choice=f"incident:{incident_id}:cancel") == []  # too late to cancel: it is under way
    assert group.do("222", choice=f"incident:{incident_id}:confirm") == []  # pressed twice: still once
    assert sum(outreach(db).values()) == incident.FIRST_CHUNK
    tick(engine)
    assert set(outreach(db).values()) == {1} and len(outreach(db)) == 250


def test_cancelled_before_confirm_nothing_goes_out(engine, db, group):
    enrol_people(engine, 5)
    incident_id, _ = press_incident(group, db)
    assert group.do("111", choice=f"incident:{incident_id}:cancel") == ["Utskicket är avbrutet. Inget skickades."]
    assert group.do("111", choice=f"incident:{incident_id}:confirm") == []
    tick(engine)
    assert outreach(db) == Counter()


def test_a_crash_between_chunks_loses_no_one_and_repeats_no_one(engine, db, group, clock, monkeypatch):
    monkeypatch.setattr(incident, "CHUNK", 60)
    enrol_people(engine, 250)
    incident_id, _ = press_incident(group, db)
    group.do("111", choice=f"incident:{incident_id}:confirm")
    with db.sessions.begin() as session:  # one chunk is queued and committed
        assert incident.queue_outreach(session, Catalogue.load(), clock.now()) == 60

    class PowerCut(Exception):
        pass

    with pytest.raises(PowerCut), db.sessions.begin() as session:  # the next one is queued, then the power goes
        assert incident.queue_outreach(session, Catalogue.load(), clock.now()) == 60
        raise PowerCut
    assert sum(outreach(db).values()) == incident.FIRST_CHUNK + 60
    restarted = ConversationEngine(db.sessions, clock, Catalogue.load(), load_profile())
    assert tick(restarted)["incident_queued"] == 250 - incident.FIRST_CHUNK - 60
    people = outreach(db)
    assert len(people) == 250 and set(people.values()) == {1}


def test_two_processes_queuing_at_once_queue_each_person_once(engine, db, group, clock, monkeypatch):
    monkeypatch.setattr(incident, "CHUNK", 10)
    enrol_people(engine, 250)
    incident_id, _ = press_incident(group, db)
    group.do("111", choice=f"incident:{incident_id}:confirm")
    other = ConversationEngine(db.sessions, clock, Catalogue.load(), load_profile())
    start = Barrier(2)

    def scheduler(engine) -> int:
        start.wait()
        return sum(tick(engine)["incident_queued"] for _ in range(4))  # up to 4 × 5 chunks of 10 each

    with ThreadPoolExecutor(2) as pool:
        queued = sum(pool.map(scheduler, [engine, other]))
    assert queued == 250 - incident.FIRST_CHUNK
    people = outreach(db)
    assert len(people) == 250 and set(people.values()) == {1}


def test_a_process_that_read_the_cursor_before_another_moved_it_queues_nothing(engine, db, group, clock):
    """On SQLite nothing is locked until the first write: the cursor moves only if no one has moved it first."""
    enrol_people(engine, 250)
    incident_id, _ = press_incident(group, db)
    group.do("111", choice=f"incident:{incident_id}:confirm")
    with db.sessions() as late:
        stale = late.get(Incident, incident_id)
        with db.sessions.begin() as first:
            assert incident.queue_outreach(first, Catalogue.load(), clock.now()) == 150
        assert incident._queue_chunk(late, Catalogue.load(), stale, clock.now(), incident.CHUNK) is None
        late.commit()
    people = outreach(db)
    assert len(people) == 250 and set(people.values()) == {1}


def test_an_outreach_to_one_area_goes_to_that_area_only_in_chunks(engine, db, group, clock, monkeypatch):
    monkeypatch.setattr(incident, "FIRST_CHUNK", 2)
    monkeypatch.setattr(incident, "CHUNK", 3)
    enrol_people(engine, 40)
    with db.sessions.begin() as session:  # the area staff noted for these (the application does not ask for it)
        cases = session.scalars(select(Case).order_by(Case.id)).all()
        chosen = [cases[n] for n in (0, 4, 5, 17, 30, 39)]
        for case in chosen:
            case.details = '{"area": "Vällingby"}'
        in_area = {case.contact_id for case in chosen}
    incident_id, preview = press_incident(group, db, area="vallingby")
    assert preview.startswith("Incidentutskick till 6 deltagare i Vällingby.")
    assert group.do("111", choice=f"incident:{incident_id}:confirm") == ["Utskicket har börjat: 6 mottagare."]
    assert len(outreach(db)) == 2
    assert tick(engine)["incident_queued"] == 4
    people = outreach(db)
    assert set(people) == in_area and set(people.values()) == {1}


def test_staff_record_each_participant_s_area_and_an_outreach_to_one_area_reaches_only_them(engine, db, group, clock):
    named, named_code = applied(engine, db, address="51")
    group.posts()  # the application's alert
    (enrolled, area_set) = group.do("111", f"/inskriv {named_code} vällingby")  # named with the enrolment
    assert (enrolled, area_set) == (f"{named_code} är nu deltagare.", f"{named_code} bor i Vällingby.")
    picked, picked_code = applied(engine, db, address="52")
    group.posts()
    (asked,) = group.do("111", f"/inskriv {picked_code}")  # not named: asked, with a button for each area
    assert asked == (f"{picked_code} är nu deltagare. Vilket område bor {picked_code} i? "
                     f"Välj, eller skriv /område {picked_code} och området.")
    assert group.do("111", choice=f"area:{picked_code}:1") == [f"{picked_code} bor i Vällingby."]
    moved, moved_code = participant(engine, db, group, address="53")
    group.do("111", f"/område {moved_code} Vällingby")
    assert group.do("111", f"/område {moved_code} Grimsta") == [f"{moved_code} bor i Grimsta."]  # moved: the case says so
    assert group.do("111", f"/arende {moved_code}")[0].startswith(f"{moved_code} ansökan, taget, bor i Grimsta\n")
    unknown = "Det området har enheten inte. Välj ett av: Hässelby, Vällingby, Grimsta, Råcksta, Vinsta."
    assert group.do("111", f"/område {moved_code} Rinkeby") == [unknown]
    participant(engine, db, group, address="54")  # no area recorded
    assert group.do("111", "/incident Rinkeby") == [unknown]
    incident_id, preview = press_incident(group, db, area="Vallingby")
    assert preview.startswith("Incidentutskick till 2 deltagare i Vällingby.")
    assert group.do("111", choice=f"incident:{incident_id}:confirm") == ["Utskicket har börjat: 2 mottagare."]
    tick(engine)
    assert set(outreach(db)) == {named.contact_id, picked.contact_id}
    with db.sessions() as session:
        codes = session.scalars(select(Case.code).join(AuditEvent, AuditEvent.case_id == Case.id)
                                .where(AuditEvent.action == "area_set")).all()  # fmt: skip
        assert sorted(codes) == sorted([named_code, picked_code, moved_code, moved_code])
        assert all(event.detail is None for event in session.scalars(select(AuditEvent).where(AuditEvent.action == "area_set")))


def test_a_person_with_two_cases_gets_one_message(engine, db, group, clock):
    enrol_people(engine, 250)
    with db.sessions.begin() as session:  # the first person's second application, enrolled too: a case far down the order
        first = session.scalar(select(Case.contact_id).order_by(Case.id))
        second = open_case(session, contact_id=first, kind="application", now=clock.now())
        second.enrolled_at, second.state = clock.now(), "claimed"
    incident_id, preview = press_incident(group, db)
    assert preview.startswith("Incidentutskick till 250 deltagare.")
    group.do("111", choice=f"incident:{incident_id}:confirm")
    assert outreach(db)[first] == 1 and sum(outreach(db).values()) == incident.FIRST_CHUNK
    tick(engine)
    people = outreach(db)
    assert len(people) == 250 and set(people.values()) == {1}


def test_everyone_reached_is_offered_the_answers_on_their_own_channel(engine, db, group, clock):
    chat, _ = participant(engine, db, group, address="43")
    incident_id, _ = press_incident(group, db)
    group.do("111", choice=f"incident:{incident_id}:confirm")
    assert chat._replies_after(0)[-1][0].startswith("Hej, det är SIG. Vi tänker på dig")
    assert chat.labels == ["Bra", "Sådär", "Vill prata"]
    (reply,) = chat.send("3")
    assert reply.startswith("Tack. Vi hör av oss")
    (alert,) = group.posts()
    assert alert.startswith("PRIORITERAT")


def test_the_outreach_is_stored_encrypted_like_every_other_message(engine, db, group):
    from sqlalchemy import text

    enrol_people(engine, 3)
    incident_id, _ = press_incident(group, db)
    group.do("111", choice=f"incident:{incident_id}:confirm")
    with db.sessions() as session:
        (body,) = session.scalars(select(OutboxItem.message_id).where(OutboxItem.kind == "incident").limit(1))
        raw = session.execute(text("select body from messages where id = :id"), {"id": body}).scalar()
    assert raw and "tänker på dig" not in raw and "SIG" not in raw
