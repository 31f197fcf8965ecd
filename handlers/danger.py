"""Danger at any step: the emergency numbers at once, the case raised to urgent, staff alerted."""

from __future__ import annotations

from handlers.alerts import alert_staff
from handlers.triage import Assessment, assess
from handlers.turn import Turn
from storage.cases import open_case, open_case_of


def check(turn: Turn) -> Assessment | None:
    """Answer danger at once; the conversation stays where it was so the person can carry on."""
    if turn.inbound.kind != "text" or not turn.inbound.text.strip():
        return None
    assessment = assess(turn.inbound.text)
    if not assessment.urgent:
        return None
    text = turn.inbound.text.strip()
    turn.urgent = True
    case = open_case_of(turn.session, turn.contact.id)
    if case is None:
        case = open_case(turn.session, contact_id=turn.contact.id, kind="danger", now=turn.now, summary=text, urgent=True)
    else:
        case.urgent = True
        case.acknowledged_at = None  # a new danger needs a new acknowledgement, or it escalates
        case.updated_at = turn.now
    alert_staff(turn.session, turn.catalogue, case, "danger", turn.now, summary=text)
    offered = turn.data.get("_offered", [])
    turn.offer(turn.text("danger.reply") + "\n" + turn.text("danger.more_numbers"))  # one message: nothing to wait for
    turn.data["_offered"] = offered  # the choices they were given still work when they carry on
    return assessment
