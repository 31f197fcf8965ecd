"""Incident outreach: after a violent event, every active participant (or those in an area) is asked if they need support."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers import checkins
from handlers.catalogue import Catalogue
from storage.models import Incident, OutboxItem
from storage.outbox import queue_to_staff


def preview(session: Session, catalogue: Catalogue, staff_id: int, area: str | None, now: datetime) -> Incident | None:
    """Show what would go to whom, and ask for a confirmation: nothing is sent on the first command."""
    recipients = checkins.participants(session, area)
    area_text = catalogue.text("sv", "staff.incident.area", area=area) if area else ""
    if not recipients:
        queue_to_staff(session, text=catalogue.text("sv", "staff.incident.none", area=area_text), now=now)
        return None
    incident = Incident(area=area, state="draft", created_by=staff_id, recipients=len(recipients), answered=0, created_at=now)
    session.add(incident)
    session.flush()
    message = catalogue.text("sv", "checkin.incident")
    text = catalogue.text("sv", "staff.incident.preview", count=len(recipients), area=area_text, text=message)
    options = [(f"incident:{incident.id}:confirm", catalogue.text("sv", "staff.incident.confirm")),
               (f"incident:{incident.id}:cancel", catalogue.text("sv", "staff.incident.cancel"))]  # fmt: skip
    queue_to_staff(session, text=text, now=now, options=options)
    return incident


def decide(session: Session, catalogue: Catalogue, incident_id: int, confirm: bool, now: datetime) -> None:
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None or incident.state != "draft":
        return  # pressed twice, or by two people: it goes out once
    if not confirm:
        incident.state = "cancelled"
        queue_to_staff(session, text=catalogue.text("sv", "staff.incident.cancelled"), now=now)
        return
    incident.state, incident.confirmed_at = "sending", now
    sent = 0
    for case in checkins.participants(session, incident.area):
        if checkins._send(session, catalogue, case, now, "checkin.incident", kind="incident", incident_id=incident.id):
            sent += 1
    incident.recipients = sent
    queue_to_staff(session, text=catalogue.text("sv", "staff.incident.started", count=sent), now=now)


def report_progress(session: Session, catalogue: Catalogue, now: datetime) -> int:
    """Post sent / failed / answered for running outreach, when the numbers have changed."""
    posted = 0
    for incident in session.scalars(select(Incident).where(Incident.state == "sending")):
        statuses = Counter(dict(session.execute(
            select(OutboxItem.status, func.count()).where(OutboxItem.incident_id == incident.id).group_by(OutboxItem.status)
        ).all()))  # fmt: skip
        sent = statuses["sent"]
        failed = statuses["failed"] + statuses["uncertain"] + statuses["cancelled"]
        numbers = f"{sent}/{failed}/{incident.answered}"
        if numbers == incident.reported:
            continue
        incident.reported = numbers
        if sent + failed >= incident.recipients:
            incident.state = "done"
        queue_to_staff(session, text=catalogue.text("sv", "staff.incident.progress", id=incident.id, sent=sent, failed=failed,
                                                    answered=incident.answered, count=incident.recipients), now=now)  # fmt: skip
        posted += 1
    return posted
