"""Staff alerts: written to the outbox for the staff group, in the transaction that caused them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from handlers.catalogue import Catalogue
from storage.models import Case
from storage.outbox import queue_to_staff

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
    queue_to_staff(session, text=text, now=now, options=options, case_id=case.id, contact_id=case.contact_id)
