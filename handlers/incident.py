"""Incident outreach: after a violent event, every active participant (or those in an area) is asked if they need support.

Who gets it is fixed by the confirmation: those who were participants when the lead pressed confirm (enrolled by
then, not closed, reachable). The confirming transaction queues only a first chunk, so the first messages go at once
and the staff action stays short; the scheduler queues the rest a chunk per transaction (`queue_outreach`). The chunks
go in case id order behind a cursor on the incident row, which moves in the same transaction as the chunk's messages
(compare-and-set, under the row lock): a crash, a restart or a second process can neither skip a participant nor
queue one twice. Someone who opts out, is erased or whose case is closed before their chunk is not sent to.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from handlers import checkins
from handlers.catalogue import Catalogue
from storage.models import Case, CaseDetails, CaseState, Contact, Incident, IncidentState, Message, OutboxItem
from storage.outbox import queue_to_staff

FIRST_CHUNK = 100  # queued with the confirmation itself
CHUNK = 200  # then a chunk per transaction from the scheduler: the bulk lane drains at most 30 a second
CHUNKS_PER_TICK = 5  # bounds a scheduler tick; even at a tick every 20 s that queues ahead of what the bulk lane sends
AREA_PAGES = 10  # an outreach to one area pages through at most this many chunks of cases to fill one chunk


def preview(session: Session, catalogue: Catalogue, staff_id: int, area: str | None, now: datetime) -> Incident | None:
    """Show what would go to whom, and ask for a confirmation: nothing is sent on the first command."""
    count = reachable_participants(session, area)
    area_text = catalogue.text("sv", "staff.incident.area", area=area) if area else ""
    if not count:
        queue_to_staff(session, text=catalogue.text("sv", "staff.incident.none", area=area_text), now=now)
        return None
    incident = Incident(area=area, state=IncidentState.DRAFT, created_by=staff_id, recipients=count, answered=0, created_at=now)
    session.add(incident)
    session.flush()
    message = catalogue.text("sv", "checkin.incident")
    text = catalogue.text("sv", "staff.incident.preview", count=count, area=area_text, text=message)
    options = [(f"incident:{incident.id}:confirm", catalogue.text("sv", "staff.incident.confirm")),
               (f"incident:{incident.id}:cancel", catalogue.text("sv", "staff.incident.cancel"))]  # fmt: skip
    queue_to_staff(session, text=text, now=now, options=options)
    return incident


def decide(session: Session, catalogue: Catalogue, incident_id: int, confirm: bool, now: datetime) -> None:
    """Confirm: fix who gets it, queue the first chunk and tell staff it has started. The rest is the scheduler's."""
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None or incident.state != IncidentState.DRAFT:
        return  # pressed twice, or by two people, or cancel after confirm: it goes out once
    if not confirm:
        incident.state = IncidentState.CANCELLED
        queue_to_staff(session, text=catalogue.text("sv", "staff.incident.cancelled"), now=now)
        return
    incident.state, incident.confirmed_at = IncidentState.SENDING, now
    incident.recipients = reachable_participants(session, incident.area)
    session.flush()
    _queue_chunk(session, catalogue, incident, now, FIRST_CHUNK)  # the row is ours since the first write of the action
    queue_to_staff(session, text=catalogue.text("sv", "staff.incident.started", count=incident.recipients), now=now)


def queue_outreach(session: Session, catalogue: Catalogue, now: datetime, limit: int | None = None) -> int:
    """Queue the next chunk (at most `limit`, default CHUNK, messages in all) of every confirmed outreach not yet wholly
    queued, in the caller's transaction: keep it to one call per transaction. Returns how many were queued; 0 when
    there is nothing left (or another process has just queued this chunk, or none in it could be reached)."""
    limit = CHUNK if limit is None else limit
    queued = 0
    unqueued = (Incident.state == IncidentState.SENDING, Incident.queued_at.is_(None))
    waiting = session.scalars(select(Incident.id).where(*unqueued).order_by(Incident.id))
    for incident_id in waiting.all():
        if queued >= limit:
            break
        for _ in range(2):  # read again once when another process moved the cursor after we read it: now we hold the lock
            incident = session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
            if incident is None or incident.state != IncidentState.SENDING or incident.queued_at is not None:
                break
            chunk = _queue_chunk(session, catalogue, incident, now, limit - queued)
            if chunk is not None:
                queued += chunk
                break
    return queued


def report_progress(session: Session, catalogue: Catalogue, now: datetime) -> int:
    """Post sent / failed / answered of the participants counted at confirm, when the numbers have changed; an
    outreach is done once it is all queued and nothing of it waits to be sent."""
    posted = 0
    for incident in session.scalars(select(Incident).where(Incident.state == IncidentState.SENDING)):
        statuses = Counter(dict(session.execute(
            select(OutboxItem.status, func.count()).where(OutboxItem.incident_id == incident.id).group_by(OutboxItem.status)
        ).all()))  # fmt: skip
        sent = statuses["sent"]
        failed = statuses["failed"] + statuses["uncertain"] + statuses["cancelled"]
        if incident.queued_at is not None and sent + failed >= sum(statuses.values()):
            incident.state = IncidentState.DONE
        numbers = f"{sent}/{failed}/{incident.answered}"
        if numbers == incident.reported:
            continue
        incident.reported = numbers
        queue_to_staff(session, text=catalogue.text("sv", "staff.incident.progress", id=incident.id, sent=sent, failed=failed,
                                                    answered=incident.answered, count=incident.recipients), now=now)  # fmt: skip
        posted += 1
    return posted


def reachable_participants(session: Session, area: str | None) -> int:
    """How many people the outreach would reach now: participants (optionally in an area) who have not opted out
    and have written at some time (there is nowhere to send to otherwise); a person with two cases counts once."""
    criteria = (Case.enrolled_at.is_not(None), Case.state != CaseState.CLOSED, Contact.stopped_at.is_(None),
                exists().where(Message.contact_id == Case.contact_id, Message.direction == "in"))  # fmt: skip
    if not area:
        return session.scalar(select(func.count(func.distinct(Case.contact_id))).join(Contact, Contact.id == Case.contact_id)
                              .where(*criteria)) or 0  # fmt: skip
    rows = session.execute(select(Case.contact_id, Case.details).join(Contact, Contact.id == Case.contact_id).where(*criteria))
    return len({contact_id for contact_id, details in rows if _in_area(details, area)})


def _queue_chunk(session: Session, catalogue: Catalogue, incident: Incident, now: datetime, limit: int) -> int | None:
    """The next participants after the cursor, at most `limit`: the cursor moves in the same transaction as their
    messages, and only if no one else moved it first (None when someone had). The caller holds the incident row;
    on SQLite, whose FOR UPDATE locks nothing, the write lock comes with the cursor's UPDATE."""
    if limit <= 0:
        return 0
    cases, through, finished = _next_cases(session, incident, limit)
    queued_at = now if finished else None
    moved = session.execute(
        update(Incident).where(Incident.id == incident.id, Incident.queued_through == incident.queued_through,
                               Incident.queued_at.is_(None))
        .values(queued_through=through, queued_at=queued_at).execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    if moved != 1:
        return None  # another process queued this chunk since we read the cursor
    set_committed_value(incident, "queued_through", through)
    set_committed_value(incident, "queued_at", queued_at)
    # A person with two cases gets one message: not again if an earlier chunk reached them through the other.
    contact_ids = sorted({contact_id for _, contact_id in cases})
    already = set(session.scalars(
        select(OutboxItem.contact_id).where(OutboxItem.incident_id == incident.id, OutboxItem.contact_id.in_(contact_ids))
    )) if cases else set()  # fmt: skip
    fresh = [(case_id, contact_id) for case_id, contact_id in cases if contact_id not in already]
    return len(checkins.send_many(session, catalogue, fresh, now, "checkin.incident", kind="incident", incident_id=incident.id))


def _next_cases(session: Session, incident: Incident, limit: int) -> tuple[list[tuple[int, str]], int, bool]:
    """(case id, contact id) of the next participants at the confirmation, the case id to move the cursor to, and
    whether none are left after them. Enrolled after the confirmation is not included."""
    columns = (Case.id, Case.contact_id, Case.details) if incident.area else (Case.id, Case.contact_id)
    found: list[tuple[int, str]] = []
    through = incident.queued_through
    for _ in range(AREA_PAGES if incident.area else 1):
        rows = session.execute(
            select(*columns).where(Case.id > through, Case.enrolled_at.is_not(None), Case.enrolled_at <= incident.confirmed_at,
                                   Case.state != CaseState.CLOSED, Case.contact_id.is_not(None))
            .order_by(Case.id).limit(limit)
        ).all()  # fmt: skip
        if rows:
            through = rows[-1].id
        found += [(row.id, row.contact_id) for row in rows if not incident.area or _in_area(row.details, incident.area)]
        if len(rows) < limit:
            return found, through, True
        if len(found) >= limit:
            break
    if len(found) > limit:
        found = found[:limit]
        through = found[-1][0]
    return found, through, False


def _in_area(details: str | None, area: str) -> bool:
    return CaseDetails.of(details).area == area  # both from the unit's list of areas
