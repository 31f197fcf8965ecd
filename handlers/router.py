"""Routes a turn: keywords and danger first, from any step; then the flow the conversation is in."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from handlers import about, apply, ask, call, checkins, danger, erase, inputs, keywords, menu, phone, relative, start, typed
from handlers.desk import relay_from_client
from handlers.turn import Turn
from storage.cases import claimed_case_of
from storage.models import ConversationState

Flow = Callable[[Turn], None]

BEGIN: dict[str, Flow] = {
    "menu:ask": ask.begin,
    "menu:apply": apply.begin,
    "menu:call": call.begin,
    "menu:relative": relative.begin,
    "menu:about": about.begin,
    "menu:show": menu.show,
}
AFTER_PHONE: dict[str, Flow] = {"apply": apply.after_phone, "call": call.after_phone}


def in_menu(turn: Turn) -> None:
    """At the menu, free text that is no menu word is probably a question: offer to send it as one."""
    if turn.choice == "unclear:send" and turn.data.get("unclear"):
        ask.submit(turn, turn.data.pop("unclear"))
    elif turn.choice == "unclear:menu":
        turn.data.pop("unclear", None)
        menu.show(turn)
    elif turn.inbound.kind == "text" and turn.inbound.text.strip():
        turn.data["unclear"] = inputs.clean(turn.inbound.text)
        turn.say("input.unclear", options=(("unclear:send", "input.send_as_question"), ("unclear:menu", "input.show_menu")))
    else:
        menu.show(turn)


def in_phone(turn: Turn) -> None:
    if phone.receive(turn):
        AFTER_PHONE.get(turn.data.get("after_phone", ""), menu.show)(turn)


FLOWS: dict[str, Flow] = {  # by ConversationState
    ConversationState.NEW: start.greet,
    ConversationState.CHOOSE_LANGUAGE: start.choose_language,
    ConversationState.MENU: in_menu,
    ConversationState.ASK: ask.receive,
    ConversationState.ABOUT: about.receive,
    ConversationState.RELATIVE: relative.receive,
    ConversationState.APPLY_WHO: apply.who,
    ConversationState.APPLY_ELIGIBLE: apply.eligible,
    ConversationState.APPLY_NEEDS: apply.needs,
    ConversationState.APPLY_SUMMARY: apply.summary,
    ConversationState.APPLY_CONTACT: apply.contact,
    ConversationState.APPLY_TIMES: apply.times,
    ConversationState.CALL_WINDOW: call.window,
    ConversationState.PHONE: in_phone,
    ConversationState.ERASE_CONFIRM: erase.confirm,
    ConversationState.CHECKIN: checkins.receive,
}


def respond(turn: Turn) -> None:
    """Run this turn; replies and the next state are left on the turn."""
    _pick_offered_option(turn)
    if turn.inbound.kind == "start" or turn.words == "/start":
        start.greet(turn)
        return
    said = danger.answer(turn)
    if said == "yes":
        return  # the danger answer is out; they carry on where they were with their next message
    if said is None and danger.check(turn):
        return  # the person carries on where they were with their next message
    # after NEJ the message that raised the question is the inbound one: it goes on where they were
    if keywords.stop(turn):
        return  # STOP on SMS stops, whatever else is going on
    if turn.state == ConversationState.ERASE_CONFIRM:
        # The answer to "erase everything?" is for us, whoever has the case: never relayed, never a keyword
        # ("yes" is also SMS's START), never a menu word.
        erase.confirm(turn)
        return
    if keywords.handle(turn):
        return
    if erase.asked(turn):
        erase.begin(turn)
        return
    if turn.state in (ConversationState.NEW, ConversationState.CHOOSE_LANGUAGE):
        FLOWS[turn.state](turn)
        return
    if start.switch_language(turn):
        return
    if turn.words in menu.MENU_WORDS:
        menu.show(turn)
        return
    if turn.state == ConversationState.CHECKIN:
        checkins.receive(turn)  # an answer to a check-in, whoever has the case
        return
    claimed = claimed_case_of(turn.session, turn.contact.id)
    if claimed is not None and turn.inbound.kind == "text" and not turn.choice and turn.inbound.text.strip():
        relay_from_client(turn.session, turn.catalogue, claimed, inputs.clean(turn.inbound.text), turn.now)
        _acknowledge_once_a_day(turn)
        return
    problem = inputs.problem(turn)
    if problem is not None and not turn.choice:
        turn.say(problem)
        return
    if inputs.was_cut(turn):
        turn.say("input.too_long")
    chosen = menu.chosen(turn)
    if chosen is not None and turn.state not in (ConversationState.ASK, ConversationState.APPLY_TIMES):
        BEGIN[chosen](turn)
        return
    if (turn.choice or "").startswith("typed:"):
        typed.confirmed(turn)  # yes to "Vill du att vi ringer dig?"
        return
    if turn.choice == "next:erase":
        erase.begin(turn)
        return
    if typed.route(turn):  # a sentence that asks for a flow, at a step where choosing one makes sense
        return
    FLOWS.get(turn.state, menu.show)(turn)


def _pick_offered_option(turn: Turn) -> None:
    """On SMS "2", or a typed label, means the option offered last: it becomes a choice."""
    offered = turn.data.get("_offered") or []
    if turn.inbound.kind != "text" or turn.inbound.choice or not offered:
        return
    words = turn.words
    for number, (key, label) in enumerate(offered, start=1):
        if words == str(number) or words == label.lower():
            turn.inbound = dataclasses.replace(turn.inbound, kind="choice", choice=key)
            return


def _acknowledge_once_a_day(turn: Turn) -> None:
    """While a worker has the case, the person's words are for them, not for a menu."""
    today = turn.now.date().isoformat()
    if turn.data.get("_acked") != today:
        turn.acknowledge("claimed.ack")
        turn.data["_acked"] = today
