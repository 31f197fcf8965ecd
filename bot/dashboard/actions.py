"""What staff can do on a case page: each action is a call into handlers.desk, through a desk that remembers what it said."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData

from handlers import desk as desks
from handlers import incident
from handlers.desk import CALL_OUTCOMES, OUTCOMES, Desk
from storage.models import AuditAction, Case, CaseState

MAX_TEXT = 2000


class WebDesk(Desk):
    """The desk of the staff group, keeping what it posts so the dashboard can show it as well."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.said: list[str] = []

    def post(self, text: str, options: list[tuple[str, str]] | None = None, case: Case | None = None) -> None:
        self.said.append(text)
        super().post(text, options, case)


# --- case actions: each one a call into handlers.desk; a returned sentence means nothing was done ------------


def _claim(desk: WebDesk, case: Case, _form: FormData) -> str | None:
    desks.claim(desk, case)
    return None


def _release(desk: WebDesk, case: Case, _form: FormData) -> str | None:
    desks.release(desk, case)
    return None


def _reply(desk: WebDesk, case: Case, form: FormData) -> str | None:
    text = (form.get("text") or "").strip()
    if not text:
        return "Skriv ett svar först."
    if len(text) > MAX_TEXT:
        return f"Svaret är för långt: högst {MAX_TEXT} tecken. Dela upp det."
    desks.relay(desk, case, text)
    return None


def _note(desk: WebDesk, case: Case, form: FormData) -> str | None:
    text = (form.get("text") or "").strip()
    if not text:
        return "Skriv en anteckning först."
    desks.add_note(desk, case, text[:MAX_TEXT])
    return None


def _enrol(desk: WebDesk, case: Case, form: FormData) -> str | None:
    if case.enrolled_at is not None:
        return f"{case.code} är redan deltagare."
    desks.enrol(desk, case, (form.get("area") or "").strip()[:60] or None)
    return None


def _area(desk: WebDesk, case: Case, form: FormData) -> str | None:
    desks.set_area(desk, case, (form.get("area") or "")[:60])
    return None


def _close(desk: WebDesk, case: Case, form: FormData) -> str | None:
    if case.state == CaseState.CLOSED:
        return f"{case.code} är redan avslutat."
    outcomes = [outcome for outcome in OUTCOMES if outcome in form.getlist("outcome")]
    if not outcomes:
        return "Välj minst ett utfall innan du avslutar."
    desks.close(desk, case, outcomes)
    return None


def _number(desk: WebDesk, case: Case, _form: FormData) -> str | None:
    refusal = desks.may_see_number(desk, case)
    if refusal is not None:
        return refusal
    desk.said.append(desks.reveal_number(desk, case))  # on this page only, never posted to the group
    return None


def _handover(desk: WebDesk, case: Case, form: FormData) -> str | None:
    to = form.get("to") or ""
    if not desks.is_row_id(to):
        return "Välj vem som ska ta över."
    desks.hand_over(desk, case, int(to))
    return None if desk.said else "Den personen kan inte ta över ärendet."


def _call(desk: WebDesk, case: Case, form: FormData) -> str | None:
    outcome = form.get("outcome") or ""
    if outcome not in CALL_OUTCOMES:
        return "Välj hur samtalet gick."
    desks.call_outcome(desk, case, outcome)
    return None


def _checkin(desk: WebDesk, case: Case, form: FormData) -> str | None:
    rule = (form.get("rule") or "").strip()
    if not rule:
        return "Skriv när incheckningen ska gå ut, till exempel: varje måndag 10:00."
    desks.set_checkin(desk, case, rule[:60])
    return None


CASE_ACTIONS: dict[str, Callable[[WebDesk, Case, FormData], str | None]] = {
    "claim": _claim, "release": _release, "reply": _reply, "note": _note, "enrol": _enrol, "area": _area, "close": _close,
    "number": _number, "handover": _handover, "call": _call, "checkin": _checkin,
}  # fmt: skip


# --- workspace actions (not about one case): the same desk functions as the staff group's commands ----------


def _contact(desk: WebDesk, form: FormData) -> str | None:
    number = (form.get("number") or "").strip()
    if form.get("consent") != "yes":
        return "Kryssa i att personen sa ja, på plats, innan du skickar."
    desks.start_outreach_contact(desk, number[:40])
    return None


def _incident(desk: WebDesk, form: FormData) -> str | None:
    """Preview and confirm in one step: the page shows the message and asks for the tick first."""
    if form.get("confirm") != "yes":
        return "Kryssa i att du har läst meddelandet och vill skicka det."
    typed = (form.get("area") or "").strip()[:60]
    area = desk.profile.unit.area_named(typed) if typed else None
    if typed and area is None:
        return desk.t("staff.area.unknown", areas=", ".join(desk.profile.unit.areas))
    draft = incident.preview(desk.session, desk.catalogue, desk.staff.id, area, desk.now)
    if draft is None:
        return "Det finns inga aktiva deltagare att skicka till."
    incident.decide(desk.session, desk.catalogue, draft.id, True, desk.now)
    desk.audit(AuditAction.INCIDENT_CONFIRMED, detail=f"incident {draft.id} from the dashboard")
    return f"Utskicket har börjat: {draft.recipients} mottagare."


WORKSPACE_ACTIONS: dict[str, Callable[[WebDesk, FormData], str | None]] = {"contact": _contact, "incident": _incident}
