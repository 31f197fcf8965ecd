"""Staff alerts: written to the outbox for the staff group, in the transaction that caused them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from handlers.catalogue import Catalogue
from storage.models import Case
from storage.outbox import ALERT, queue_to_staff

SUMMARY_LIMIT = 200


def alert_staff(
    session: Session, catalogue: Catalogue, case: Case, kind: str, now: datetime, summary: str | None = None, language: str = "sv"
) -> None:
    """Tell the staff group about a case. Only the pseudonym code and a short summary: never an address."""
    summary = (summary if summary is not None else case.summary or "").strip().replace("\n", " ")
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1] + "…"
    text = catalogue.text(language, f"staff.alert.{kind}", code=case.code, summary=summary or "-")
    if case.relative:
        text += "\n" + catalogue.text(language, "staff.alert.relative")
    options = [(f"claim:{case.code}", catalogue.text(language, "staff.claim"))]
    if case.urgent:
        options.insert(0, (f"ack:{case.code}", catalogue.text(language, "staff.ack")))
    queue_to_staff(session, text=text, now=now, options=options, case_id=case.id, contact_id=case.contact_id, kind=ALERT)


def alert_undelivered(session: Session, catalogue: Catalogue, item_id: int, reason: str, now: datetime) -> None:
    """A message to a person with a case did not arrive (or may not have): staff should know, by code only."""
    from storage.cases import open_case_of
    from storage.models import OutboxItem

    item = session.get(OutboxItem, item_id)
    if item is None or item.target != "contact" or item.contact_id is None:
        return
    case = session.get(Case, item.case_id) if item.case_id else open_case_of(session, item.contact_id)
    if case is None:
        return  # a greeting to someone who never asked for anything: nobody to tell
    text = catalogue.text(language_of_staff(), "staff.undelivered", code=case.code, reason=reason[:80])
    queue_to_staff(session, text=text, now=now, case_id=case.id, contact_id=case.contact_id)


def language_of_staff() -> str:
    return "sv"


def alert_flood(session: Session, catalogue: Catalogue, what: str, now: datetime) -> None:
    """One post for a flood of requests, whatever its size: staff see an event, not a queue buried in cases."""
    queue_to_staff(session, text=catalogue.text(language_of_staff(), "staff.alert.flood", what=what), now=now)
