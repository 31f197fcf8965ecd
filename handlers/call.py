"""Requesting a call: a time window inside office hours, a number by consent, a confirmation in words."""

from __future__ import annotations

import json

from handlers import calendar, menu, office, phone
from handlers.alerts import alert_staff
from handlers.turn import Option, Turn
from storage.cases import open_case
from storage.models import CaseKind, ConversationState

WINDOWS_OFFERED = 6


def begin(turn: Turn, relative: bool = False) -> None:
    turn.data["relative"] = relative
    turn.data.pop("call_wish", None)
    windows = calendar.call_windows(turn.profile, turn.now, count=WINDOWS_OFFERED)
    if not windows:
        turn.say("call.no_windows")
        menu.show(turn)
        return
    options = tuple(Option(f"window:{window.key}", calendar.format_window(window, turn.language, turn.profile)) for window in windows)
    turn.offer(turn.text("call.windows"), options + tuple(Option(key, turn.text(label)) for key, label in menu.BACK))
    turn.goto(ConversationState.CALL_WINDOW)


def window(turn: Turn) -> None:
    key = (turn.choice or "").removeprefix("window:")
    chosen = calendar.window_from_key(turn.profile, key, now=turn.now) if key else None
    if chosen is None:
        turn.say("call.bad_window")
        begin(turn, bool(turn.data.get("relative")))
        return
    turn.data["window"] = chosen.key
    phone.ask(turn, then="call")


def after_phone(turn: Turn) -> None:
    chosen = calendar.window_from_key(turn.profile, turn.data.get("window", ""), now=turn.now)
    if chosen is None:  # the window passed while they were typing the number
        turn.say("call.bad_window")
        begin(turn, bool(turn.data.get("relative")))
        return
    words = calendar.format_window(chosen, turn.language, turn.profile)
    wish = turn.data.pop("call_wish", None)  # "kan ni ringa mig imorgon efter 3": what they asked for, for the caller
    case = open_case(turn.session, contact_id=turn.contact.id, kind=CaseKind.CALL, now=turn.now,
                     summary=f"ring {calendar.format_window(chosen, 'sv', turn.profile)}" + (f"; skrev: {wish}" if wish else ""),
                     relative=bool(turn.data.get("relative")), due_at=chosen.start)  # fmt: skip
    case.details = json.dumps({"phone": turn.data.pop("phone"), "window_start": chosen.start.isoformat(),
                               "window_end": chosen.end.isoformat(), **({"wrote": wish} if wish else {})})  # fmt: skip
    alert_staff(turn.session, turn.catalogue, case, "call", turn.now)
    turn.acknowledge("call.confirmed", window=words)
    office.note_if_closed(turn)
    for key in ("window", "relative", "after_phone"):
        turn.data.pop(key, None)
    menu.offer_next(turn)
