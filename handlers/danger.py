"""Danger at any step: the emergency numbers at once, every open case raised, staff alerted; a question when unsure."""

from __future__ import annotations

import dataclasses
from datetime import time, timedelta

from handlers.alerts import alert_staff
from handlers.triage import Assessment, assess
from handlers.turn import Option, Turn
from storage.cases import open_case, open_cases_of
from storage.models import Case, CaseKind

CHECK_ANSWER_WITHIN = timedelta(minutes=10)  # then staff are alerted anyway (handlers/timers.py)
NIGHT = (time(21, 0), time(6, 0))  # "i natt" in the danger answer only between these
YES = "dangercheck:yes"
NO = "dangercheck:no"
TYPED_YES = frozenset({"ja", "jaa", "japp", "jepp", "j", "yes", "y", "yeah", "yep", "ja!", "jag är i fara", "i am"})
TYPED_NO = frozenset({"nej", "nä", "nää", "nix", "n", "no", "nope", "nah", "inte", "nej tack"})


def check(turn: Turn) -> Assessment | None:
    """Answer danger at once; the conversation stays where it was so the person can carry on."""
    if turn.inbound.kind != "text" or not turn.inbound.text.strip():
        return None
    assessment = assess(turn.inbound.text)
    if assessment.urgent:
        raise_danger(turn, turn.inbound.text.strip())
    elif assessment.check:
        ask_if_in_danger(turn, turn.inbound.text.strip())
    else:
        return None
    return assessment


def raise_danger(turn: Turn, text: str) -> None:
    """The danger answer first, then every open case of the person urgent, then one urgent alert."""
    turn.urgent = True
    cases = _open_cases(turn, text, urgent=True)
    for case in cases:
        case.urgent = True
        case.acknowledged_at = None  # a new danger needs a new acknowledgement, or it escalates
        case.updated_at = turn.now
        if case.check_asked_at is not None and case.check_answered_at is None:
            case.check_answered_at = turn.now  # the question is settled: this is danger
    alert_staff(turn.session, turn.catalogue, cases[0], "danger", turn.now, summary=text)
    pending = turn.data.pop("_danger_check", None)  # a question still open is settled: this is danger
    offered = pending["offered"] if pending else turn.data.get("_offered", [])
    night = _is_night(turn)
    turn.offer(turn.text("danger.reply_night" if night else "danger.reply") + "\n" + turn.text("danger.more_numbers"))
    turn.data["_offered"] = offered  # the choices they were given still work when they carry on


def ask_if_in_danger(turn: Turn, text: str) -> None:
    """Might be danger: ask, mark every open case "kolla" and move it up; hold the message until they answer."""
    turn.asked = True
    cases = _open_cases(turn, text, urgent=False)
    for case in cases:
        case.check_asked_at = turn.now
        case.check_answered_at = None
        case.check_alerted_at = None
        case.updated_at = turn.now
    alert_staff(turn.session, turn.catalogue, cases[0], "check", turn.now, summary=text)
    pending = turn.data.get("_danger_check")
    offered = pending["offered"] if pending else turn.data.get("_offered", [])
    turn.offer(turn.text("danger.check.question"),
               (Option(YES, turn.text("danger.check.yes")), Option(NO, turn.text("danger.check.no"))))  # fmt: skip
    turn.data["_danger_check"] = {"text": text, "offered": offered}


def answer(turn: Turn) -> str | None:
    """The answer to "Är du i fara just nu?", if this message is one; never a menu choice or chatter.

    JA: the danger answer and the urgent path, and "yes" is returned. NEJ: staff are told, and the message that raised
    the question takes this one's place, to go on where the person was; "no" is returned."""
    pending = turn.data.get("_danger_check")
    if not pending:
        return None
    said = turn.choice if turn.choice in (YES, NO) else None
    if said is None and turn.inbound.kind == "text":
        said = YES if turn.words in TYPED_YES else NO if turn.words in TYPED_NO else None
    if said is None:
        return None
    turn.data.pop("_danger_check")
    if said == YES:
        raise_danger(turn, pending["text"])
        turn.data["_offered"] = pending["offered"]
        return "yes"
    asked = [case for case in open_cases_of(turn.session, turn.contact.id)
             if case.check_asked_at is not None and case.check_answered_at is None]  # fmt: skip
    for case in asked:
        case.check_answered_at = turn.now
    if asked:
        alert_staff(turn.session, turn.catalogue, asked[0], "check_no", turn.now)  # one post for the person, not per case
    turn.data["_offered"] = pending["offered"]
    turn.inbound = dataclasses.replace(turn.inbound, kind="text", text=pending["text"], choice=None)
    return "no"


def _open_cases(turn: Turn, text: str, *, urgent: bool) -> list[Case]:
    """Every open case of the person, newest first; a new danger case when there is none."""
    cases = open_cases_of(turn.session, turn.contact.id)
    if not cases:
        cases = [open_case(turn.session, contact_id=turn.contact.id, kind=CaseKind.DANGER, now=turn.now, summary=text, urgent=urgent)]
    return cases


def _is_night(turn: Turn) -> bool:
    local = turn.now.astimezone(turn.profile.office_hours.zone).time()
    start, end = NIGHT
    return local >= start or local < end

