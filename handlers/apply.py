"""Applying for support: who it is for, age and area, needs, how to be contacted, a summary to confirm."""

from __future__ import annotations

import json
import re

from handlers import intents, menu, office, phone
from handlers.alerts import alert_staff
from handlers.keywords import PHONE_CHANNELS
from handlers.turn import Option, Turn
from storage.cases import open_case
from storage.models import CaseKind, ConversationState

NEEDS = ("housing", "income", "debts", "studies", "safety", "substances", "family", "other")
CONTACT_WAYS = (("contact:chat", "contact.chat"), ("contact:phone", "contact.phone"), ("contact:meet", "contact.meet"))
ELIGIBLE = (("apply:yes", "apply.yes"), ("apply:under18", "apply.under_18"), ("apply:elsewhere", "apply.elsewhere"),
            ("apply:unsure", "apply.unsure"))  # fmt: skip
SUMMARY_OPTIONS = (("apply:send", "apply.send"), ("apply:change", "apply.change_contact"), ("apply:restart", "apply.restart"))
SELF_WORDS = {"mig", "mej", "mig själv", "mej själv", "jag", "för mig", "jag själv", "me", "myself", "for me", "for myself", "i do"}
NUMBERS = re.compile(r"^\s*\d+(?:[\s,;.]+\d+)+\s*$")


def begin(turn: Turn, relative: bool = False) -> None:
    turn.data.update(relative=relative, via_relative=relative, needs=[], contact_way="chat", times=None, phone=None, apply_note=None)
    if relative:
        _ask_eligible(turn)
        return
    turn.say("apply.who", options=(("apply:me", "apply.for_me"), ("apply:other", "apply.for_other")))
    turn.goto(ConversationState.APPLY_WHO)


def who(turn: Turn) -> None:
    choice = turn.choice or _typed_who(turn)
    if choice not in ("apply:me", "apply:other"):
        begin(turn, bool(turn.data.get("relative")))
        return
    turn.data["relative"] = choice == "apply:other"
    _ask_eligible(turn)


def _typed_who(turn: Turn) -> str | None:
    """ "mig själv" or "min son" typed instead of pressed."""
    if turn.words in SELF_WORDS:
        return "apply:me"
    return "apply:other" if turn.inbound.kind == "text" and intents.read(turn.inbound.text).relative else None


def _ask_eligible(turn: Turn) -> None:
    turn.say("apply.eligible_other" if turn.data.get("relative") else "apply.eligible", options=ELIGIBLE)
    turn.goto(ConversationState.APPLY_ELIGIBLE)


def eligible(turn: Turn) -> None:
    if turn.choice == "apply:under18":
        turn.say("apply.referral_under_18", referral=office.referral(turn, "under_18"))
        menu.show(turn)
    elif turn.choice == "apply:elsewhere":
        turn.say("apply.referral_elsewhere", referral=office.referral(turn, "outside_area"))
        menu.show(turn)
    elif turn.choice in ("apply:yes", "apply:unsure"):
        turn.data["unsure"] = turn.choice == "apply:unsure"
        if turn.data.get("needs"):  # named in the message that started the application ("hjälp med kronofogden")
            _ask_needs(turn, "apply.needs_chosen", needs=_needs_text(turn))
        else:
            _ask_needs(turn, "apply.needs_other" if turn.data.get("relative") else "apply.needs")
    else:
        _ask_eligible(turn)


def _ask_needs(turn: Turn, key: str, replace: bool = False, **values: str) -> None:
    """The needs as buttons, the chosen ones marked. Not on SMS: there the text already names them ("Valt: boende"),
    and a mark would push a one-segment SMS into two (a check mark into UCS-2)."""
    chosen = turn.data.get("needs", []) if turn.channel not in PHONE_CHANNELS else []
    options = tuple(Option(f"need:{need}", turn.text("apply.marked", need=turn.text(f"need.{need}")) if need in chosen
                           else turn.text(f"need.{need}")) for need in NEEDS)  # fmt: skip
    # a toggle updates the pressed message in place where the channel can (Telegram), instead of adding a copy
    turn.offer(turn.text(key, **values), options + (Option("apply:done", turn.text("apply.done")),),
               replaces=turn.inbound.pressed if replace else None)  # fmt: skip
    turn.goto(ConversationState.APPLY_NEEDS)


def needs(turn: Turn) -> None:
    chosen: list[str] = turn.data.setdefault("needs", [])
    typed = NUMBERS.match(turn.inbound.text or "")
    if typed and not turn.choice:  # "1 3 5" on SMS: several at once, and that is the answer
        for number in re.findall(r"\d+", turn.inbound.text):
            if 1 <= int(number) <= len(NEEDS) and NEEDS[int(number) - 1] not in chosen:
                chosen.append(NEEDS[int(number) - 1])
        if chosen:
            _summary(turn)
            return
    if turn.choice and turn.choice.startswith("need:") and turn.choice[5:] in NEEDS:
        need = turn.choice[5:]
        if need in chosen:  # pressed again: taken back, and they are told so
            chosen.remove(need)
            _ask_needs(turn, "apply.needs_removed", True, need=turn.text(f"need.{need}").lower(), needs=_needs_text(turn) or "-")
        else:
            chosen.append(need)
            _ask_needs(turn, "apply.needs_chosen", True, needs=_needs_text(turn) or "-")
    elif turn.choice == "apply:done" or turn.words in ("klar", "done"):
        if chosen:
            _summary(turn)
        else:
            _ask_needs(turn, "apply.needs_missing")
    else:
        _ask_needs(turn, "apply.needs_other" if turn.data.get("relative") else "apply.needs")


def _needs_text(turn: Turn) -> str:
    return ", ".join(turn.text(f"need.{need}").lower() for need in turn.data.get("needs", []))


def _summary(turn: Turn) -> None:
    who_key = "apply.who_other" if turn.data.get("relative") else "apply.who_me"
    contact = turn.text(f"contact.{turn.data.get('contact_way', 'chat')}")
    turn.say("apply.summary", who=turn.text(who_key), needs=_needs_text(turn), contact=contact, options=SUMMARY_OPTIONS)
    turn.goto(ConversationState.APPLY_SUMMARY)


def summary(turn: Turn) -> None:
    if turn.choice == "apply:send" or turn.words in ("ja", "yes", "skicka", "send"):
        _submit(turn)
    elif turn.choice == "apply:change":
        turn.say("apply.contact_prompt", options=CONTACT_WAYS)
        turn.goto(ConversationState.APPLY_CONTACT)
    elif turn.choice == "apply:restart":
        begin(turn, bool(turn.data.get("via_relative")))
    else:
        _summary(turn)


def contact(turn: Turn) -> None:
    way = (turn.choice or "").removeprefix("contact:")
    if way not in ("chat", "phone", "meet"):
        turn.say("apply.contact_prompt", options=CONTACT_WAYS)
        return
    turn.data["contact_way"] = way
    if way == "phone":
        phone.ask(turn, then="apply")
    elif way == "meet":
        ask_times(turn)
    else:
        _summary(turn)


def after_phone(turn: Turn) -> None:
    turn.data.pop("after_phone", None)
    ask_times(turn)


def ask_times(turn: Turn) -> None:
    turn.say("apply.times_prompt")
    turn.goto(ConversationState.APPLY_TIMES)


def times(turn: Turn) -> None:
    if turn.inbound.text.strip():
        turn.data["times"] = turn.inbound.text.strip()[:300]
    _summary(turn)


def _submit(turn: Turn) -> None:
    data = turn.data
    way = data.get("contact_way", "chat")
    summary = "; ".join(filter(None, [
        "för en anhörig" if data.get("relative") else "för sig själv",
        "osäker på ålder/område" if data.get("unsure") else None,
        "behov: " + ", ".join(data.get("needs", [])),
        f"kontakt: {way}",
        f"tider: {data['times']}" if data.get("times") else None,
        f"skrev: {data['apply_note']}" if data.get("apply_note") else None,
    ]))  # fmt: skip
    details = {"needs": data.get("needs", []), "contact_way": way, "times": data.get("times"), "phone": data.get("phone")}
    if data.get("apply_note"):
        details["wrote"] = data["apply_note"]  # what their first words said, for staff: "behöver hjälp med kronofogden"
    due, days = office.application_wait(turn)
    case = open_case(turn.session, contact_id=turn.contact.id, kind=CaseKind.APPLICATION, now=turn.now, summary=summary,
                     relative=bool(data.get("relative")), due_at=due)  # fmt: skip
    case.details = json.dumps(details)
    alert_staff(turn.session, turn.catalogue, case, "application", turn.now)
    turn.acknowledge("apply.received", days=str(days), how=turn.text(f"contact.{way}_how"))
    office.note_if_closed(turn)
    for key in ("needs", "times", "phone", "contact_way", "unsure", "relative", "via_relative", "apply_note"):
        data.pop(key, None)
    menu.offer_next(turn)
