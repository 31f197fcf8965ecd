"""The nightly purge: after it, no table holds anything past what the profile allows."""

from datetime import timedelta

from sqlalchemy import select, text

from handlers.profile import load_profile
from handlers.retention import purge
from storage.models import Case, Contact, Message, OutboxItem
from tests.handlers.test_ask import started


def test_the_purge_leaves_no_expired_row_in_any_table(db, engine, clock):
    profile = load_profile()
    keep = profile.retention
    stopped = started(engine, channel="sms", address="+46701230011")
    stopped.send("SLUTA")
    question = started(engine, address="8001")
    question.press("Ställ en fråga")
    question.send("En gammal fråga om skulder")
    applicant = started(engine, address="8002")
    applicant.press("Ansök om stöd")
    applicant.press("Mig själv")
    applicant.press("Ja")
    applicant.press("Boende")
    applicant.press("Klar")
    applicant.press("Skicka")
    with db.sessions.begin() as session:
        session.execute(text("update cases set state = 'closed' where kind = 'question'"))
    clock.advance(days=max(keep.message_days, keep.inactive_question_days, keep.stopped_contact_days) + 1)
    fresh = started(engine, address="8003")  # someone who wrote today keeps everything
    fresh.send("hej igen")
    with db.sessions.begin() as session:
        done = purge(session, profile, clock.now())
    assert done["stopped_contacts"] == 1 and done["inactive_questions"] == 1 and done["message_bodies"] > 0
    cutoff = clock.now() - timedelta(days=keep.message_days)
    with db.sessions() as session:
        assert session.get(Contact, stopped.contact_id) is None
        assert session.get(Contact, question.contact_id) is None
        assert session.scalar(select(Case.summary).where(Case.kind == "question")) is None  # the count stays
        old = session.scalars(select(Message).where(Message.created_at < cutoff)).all()
        assert old and all(message.body is None and message.meta is None for message in old)
        assert session.scalars(select(Message.body).where(Message.contact_id == fresh.contact_id)).first()
        assert session.get(Contact, applicant.contact_id) is not None  # an open application is not purged
        old_posts = session.scalars(select(OutboxItem).where(OutboxItem.status != "pending", OutboxItem.created_at < cutoff)).all()
        assert all(item.payload is None for item in old_posts)
