"""Going where a typed message asks: sure → straight into that flow, keeping what was written; unsure → one question."""

from __future__ import annotations

from handlers import about, apply, ask, call, intents, menu, relative
from handlers.inputs import clean
from handlers.turn import Turn
from storage.models import ConversationState

# Steps where the person is at a crossroads: an unsure reading there gets a question ("Vill du att vi ringer dig?").
CROSSROADS = (ConversationState.MENU, ConversationState.RELATIVE, ConversationState.ABOUT)
# Steps inside a flow: only a sure reading leaves it, and never for the flow they are already in.
INSIDE = {
    ConversationState.APPLY_WHO: "apply",
    ConversationState.APPLY_ELIGIBLE: "apply",
    ConversationState.APPLY_NEEDS: "apply",
    ConversationState.APPLY_SUMMARY: "apply",
    ConversationState.APPLY_CONTACT: "apply",
    ConversationState.CALL_WINDOW: "call",
}
LABELLED = ("call", "apply", "ask", "relative", "about")  # flows with a menu label to offer
KEEP_FROM = 4  # a message of this many words says more than the wish itself: it is kept for staff ("imorgon efter 3")


def route(turn: Turn) -> bool:
    """True when the typed message asked for a flow and has been answered."""
    if turn.inbound.kind != "text" or turn.choice or turn.state not in (*CROSSROADS, *INSIDE):
        return False
    text = clean(turn.inbound.text)
    reading = intents.read(text)
    if reading.flow is not None:
        inside = INSIDE.get(turn.state)
        if inside is not None and (reading.flow == inside or reading.relative or reading.flow == "relative"):
            return False  # their answer to this step ("min son" at "Vem gäller det?"): the step reads it
        go(turn, reading.flow, reading.relative, text, reading.words)
        return True
    if reading.candidates and turn.state in CROSSROADS:
        _ask_which(turn, reading.candidates, text)
        return True
    return False


def go(turn: Turn, flow: str, for_relative: bool, text: str, words: int) -> None:
    kept = text[:300] if words >= KEEP_FROM else None
    if flow == "call":
        call.begin(turn, for_relative)
        if kept and turn.state == ConversationState.CALL_WINDOW:
            turn.data["call_wish"] = kept
    elif flow == "apply":
        apply.begin(turn, for_relative)
        turn.data["needs"] = [need for need in intents.matcher().needs_in(text) if need in apply.NEEDS]  # already chosen
        if kept:
            turn.data["apply_note"] = kept
    elif flow == "ask":
        if words >= intents.QUESTION_WORDS:
            ask.submit(turn, text, for_relative)  # the message is the question: it goes to staff as written
        else:
            ask.begin(turn, for_relative)
    elif flow == "relative":
        relative.begin(turn)
    elif flow == "about":
        about.begin(turn)
    else:
        menu.show(turn)


def _ask_which(turn: Turn, candidates: tuple[str, ...], text: str) -> None:
    candidates = tuple(flow for flow in candidates if flow in LABELLED)
    if not candidates:
        menu.show(turn)
        return
    turn.data["typed"] = text
    if len(candidates) == 1:
        turn.say(f"intent.confirm_{candidates[0]}", options=((f"typed:{candidates[0]}", "intent.yes"), ("menu:show", "intent.no")))
    else:
        turn.say("intent.which", options=tuple((f"typed:{flow}", f"menu.{flow}") for flow in candidates) + menu.BACK)


def confirmed(turn: Turn) -> None:
    """They pressed yes (or one of the flows) to the question: go there with what they wrote."""
    flow = (turn.choice or "").removeprefix("typed:")
    text = turn.data.pop("typed", "") or ""
    reading = intents.read(text)
    go(turn, flow if flow in intents.FLOWS else "menu", reading.relative, text, reading.words)
