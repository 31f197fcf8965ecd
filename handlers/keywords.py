"""SMS keywords: stop, start and help, in Swedish and in the words Twilio already knows."""

from __future__ import annotations

from handlers import menu
from handlers.turn import Turn
from storage.models import ConversationState

# Twilio answers these itself on long codes (only when the whole message is the word) and blocks our sends
# until START; we record the stop too, so no channel sends to them. https://help.twilio.com/articles/223134027
TWILIO_STOP = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
OUR_STOP = {"sluta", "avsluta", "stoppa"}
START = {"start", "starta", "unstop", "yes", "börja", "borja"}
HELP = {"help", "hjälp", "hjalp", "info"}
PHONE_CHANNELS = ("sms", "whatsapp")


def stop(turn: Turn) -> bool:
    """True when the message was a stop word on a phone channel: it always stops, at any step."""
    word = turn.words
    if turn.channel in PHONE_CHANNELS and word in TWILIO_STOP | OUR_STOP:
        turn.contact.stopped_at = turn.now
        if word in OUR_STOP:  # Twilio confirms its own stop words; ours we confirm
            turn.say("stop.done")
        return True
    return False


def handle(turn: Turn) -> bool:
    """True when the message was a keyword and has been answered."""
    word = turn.words
    if stop(turn):
        return True
    if turn.contact.stopped_at is not None and word in START:
        turn.contact.stopped_at = None
        turn.say("stop.resumed")
        turn.goto(ConversationState.MENU)
        return True
    if word in HELP:
        turn.say("stop.help")
        menu.show(turn)
        return True
    return False
