"""Check-ins: staff set them per participant; due ones go out once, in the bulk lane; answers reach staff."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from handlers import schedule
from handlers.calendar import is_quiet
from handlers.catalogue import Catalogue
from handlers.menu import NEXT
from handlers.profile import Profile
from handlers.turn import Turn
from storage.cases import open_case, open_case_of
from storage.models import (
    Case,
    CaseKind,
    CaseState,
    CheckinSchedule,
    CheckinState,
    Contact,
    Conversation,
    ConversationState,
    Incident,
    Message,
    OutboxItem,
)
from storage.outbox import RELAYED, queue_to_staff

ANSWERS = (("checkin:good", "checkin.good"), ("checkin:soso", "checkin.soso"), ("checkin:talk", "checkin.talk"))
GRACE = timedelta(hours=6)
SILENCE_AFTER = 2
BATCH = 500


def set_schedule(session: Session, case: Case, rule: dict, now: datetime, profile: Profile) -> CheckinSchedule:
    """Editing replaces: one schedule per case, its next moment computed afresh."""
    existing = session.scalar(select(CheckinSchedule).where(CheckinSchedule.case_id == case.id))
    if existing is None:
        existing = CheckinSchedule(case_id=case.id, created_at=now, unanswered=0, silence_alerted=False)
        session.add(existing)
    existing.rule, existing.state, existing.updated_at = json.dumps(rule), CheckinState.ACTIVE, now
    existing.next_due_at = schedule.next_due(rule, now, profile)
    session.flush()
    return existing


def send_due(session: Session, catalogue: Catalogue, profile: Profile, now: datetime, grace: timedelta = GRACE) -> dict[str, int]:
    """Send what is due, each exactly once: the schedule row moves on in the same transaction as the message."""
    done = {"sent": 0, "skipped": 0, "waiting": 0}
    due = session.scalars(select(CheckinSchedule).where(CheckinSchedule.state == CheckinState.ACTIVE, CheckinSchedule.next_due_at <= now)
                          .order_by(CheckinSchedule.next_due_at).limit(BATCH)).all()  # fmt: skip
    quiet = is_quiet(profile, now)
    for row in due:
        late = now - row.next_due_at
        if late <= grace and quiet:
            done["waiting"] += 1  # the quiet hours were changed under it: wait for their end
            continue
        rule = json.loads(row.rule)
        following = schedule.next_due(rule, now, profile)
        moved = session.execute(
            update(CheckinSchedule).where(CheckinSchedule.id == row.id, CheckinSchedule.next_due_at == row.next_due_at)
            .values(next_due_at=following, state=CheckinState.ACTIVE if following else CheckinState.DONE, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # fmt: skip
        if moved != 1:
            continue  # another process has it
        if late > grace:
            done["skipped"] += 1  # down for too long: a check-in hours late helps nobody
            continue
        case = session.get(Case, row.case_id)
        if case is None or case.contact_id is None or case.state == CaseState.CLOSED:
            session.execute(update(CheckinSchedule).where(CheckinSchedule.id == row.id).values(state=CheckinState.STOPPED))
            continue
        if send_many(session, catalogue, [(case.id, case.contact_id)], now, "checkin.message", kind="checkin"):
            _count_silence(session, catalogue, row, case, now)
            done["sent"] += 1
    return done


def send_many(session: Session, catalogue: Catalogue, cases: Sequence[tuple[int, str]], now: datetime, key: str, *, kind: str,
              incident_id: int | None = None) -> list[int]:  # fmt: skip
    """Queue `key` to each (case id, contact id) in the bulk lane, with its answer buttons, on the channel the person
    last wrote from, and put their conversation in the check-in state. Nobody who opted out or never wrote gets it,
    and a person listed twice gets it once. A few statements for the lot, not a handful per person. Returns the case
    ids sent to."""
    if not cases:
        return []
    session.flush()  # what the caller changed is written once now, not by an autoflush before every statement below
    with session.no_autoflush:
        ids = sorted({contact_id for _, contact_id in cases})
        contacts = {row.id: row for row in session.execute(
            select(Contact.id, Contact.language, Contact.stopped_at).where(Contact.id.in_(ids))
        )}  # fmt: skip
        # Where each last wrote from, as storage.outbox.last_reached_on: their newest inbound message.
        newest = select(func.max(Message.id)).where(Message.contact_id.in_(ids), Message.direction == "in").group_by(Message.contact_id)
        reached = {row.contact_id: (row.identity_id, row.channel) for row in session.execute(
            select(Message.contact_id, Message.identity_id, Message.channel).where(Message.id.in_(newest))
        )}  # fmt: skip
        chosen: dict[str, int] = {}
        for case_id, contact_id in cases:
            contact = contacts.get(contact_id)
            if contact is not None and contact.stopped_at is None and contact_id in reached and contact_id not in chosen:
                chosen[contact_id] = case_id
        if not chosen:
            return []
        wording: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        transcripts = []
        for contact_id in chosen:
            language = contacts[contact_id].language or catalogue.default_language
            if language not in wording:
                options = [(choice, catalogue.text(language, label)) for choice, label in ANSWERS]
                wording[language] = (catalogue.text(language, key), options)
            text, options = wording[language]
            identity_id, channel = reached[contact_id]
            # The rows storage.outbox.queue_to_contact writes, inserted together instead of one by one.
            transcripts.append({"contact_id": contact_id, "identity_id": identity_id, "channel": channel, "direction": "out",
                                "kind": "text", "body": text, "meta": json.dumps({"options": [list(option) for option in options]}),
                                "created_at": now, "processed_at": now})  # fmt: skip
        message_ids = session.scalars(insert(Message).returning(Message.id, sort_by_parameter_order=True), transcripts).all()
        session.execute(insert(OutboxItem), [
            {"channel": row["channel"], "lane": 1, "contact_id": row["contact_id"], "identity_id": row["identity_id"],
             "message_id": message_id, "target": "contact", "status": "pending", "attempts": 0, "next_attempt_at": now,
             "created_at": now, "kind": kind, "incident_id": incident_id, "case_id": chosen[row["contact_id"]]}
            for row, message_id in zip(transcripts, message_ids, strict=True)
        ])  # fmt: skip
        # Locked in one order, so two of these never wait for each other; read afresh under the lock.
        conversations = session.scalars(
            select(Conversation).where(Conversation.contact_id.in_(sorted(chosen))).order_by(Conversation.contact_id)
            .with_for_update().execution_options(populate_existing=True)
        ).all()  # fmt: skip
        for conversation in conversations:
            options = wording[contacts[conversation.contact_id].language or catalogue.default_language][1]
            data = json.loads(conversation.data or "{}")
            data["_offered"] = [list(option) for option in options]
            data["checkin_case"], data["checkin_kind"], data["incident_id"] = chosen[conversation.contact_id], kind, incident_id
            conversation.state, conversation.data, conversation.updated_at = ConversationState.CHECKIN, json.dumps(data), now
    return list(chosen.values())


def _count_silence(session: Session, catalogue: Catalogue, row: CheckinSchedule, case: Case, now: datetime) -> None:
    previous_unanswered = row.last_sent_at is not None and (row.last_answer_at is None or row.last_answer_at < row.last_sent_at)
    row.unanswered = (row.unanswered or 0) + 1 if previous_unanswered else 0
    row.last_sent_at = now
    if row.unanswered >= SILENCE_AFTER and not row.silence_alerted:
        row.silence_alerted = True
        queue_to_staff(session, text=catalogue.text("sv", "staff.checkin.silence", code=case.code, count=row.unanswered),
                       now=now, case_id=case.id, contact_id=case.contact_id)  # fmt: skip


def receive(turn: Turn) -> None:
    """An answer to a check-in or to incident outreach."""
    case = turn.session.get(Case, turn.data.get("checkin_case")) if turn.data.get("checkin_case") else None
    kind = turn.data.get("checkin_kind", "checkin")
    row = turn.session.scalar(select(CheckinSchedule).where(CheckinSchedule.case_id == case.id)) if case else None
    if row is not None:
        row.last_answer_at, row.unanswered, row.silence_alerted = turn.now, 0, False
    if kind == "incident" and turn.data.get("incident_id"):
        turn.session.execute(update(Incident).where(Incident.id == turn.data["incident_id"]).values(answered=Incident.answered + 1))
    needs_person = turn.choice == "checkin:talk" or (not turn.choice and turn.inbound.text.strip() != "")
    if kind == "incident":
        needs_person = turn.words not in ("nej", "no", "2", "nej tack", "no thanks") and turn.choice not in ("checkin:good",)
    if needs_person and case is not None:
        key = "staff.checkin.incident_answer" if kind == "incident" else "staff.checkin.answer"
        text = turn.inbound.text.strip() if not turn.choice else turn.text("checkin.talk")
        if kind == "incident":
            case.urgent = True  # prioritised: before ordinary work in the queue
            case.updated_at = turn.now
        queue_to_staff(turn.session, text=turn.catalogue.text("sv", key, code=case.code, text=text[:500]), now=turn.now,
                       case_id=case.id, contact_id=case.contact_id, kind=RELAYED,
                       options=[(f"claim:{case.code}", turn.catalogue.text("sv", "staff.claim"))])  # fmt: skip
        turn.acknowledge("checkin.will_contact", options=NEXT)
    else:
        turn.say("checkin.thanks", options=NEXT)  # short enough that the next steps fit the same SMS
    for key in ("checkin_case", "checkin_kind", "incident_id"):
        turn.data.pop(key, None)
    turn.goto(ConversationState.MENU)


def outreach_case(session: Session, contact_id: str, now: datetime) -> Case:
    case = open_case_of(session, contact_id)
    return case or open_case(session, contact_id=contact_id, kind=CaseKind.CHECKIN, now=now)
