"""Input no flow can use (empty, emoji only, media, other scripts) gets a sentence, never silence."""

from __future__ import annotations

import re

from handlers.turn import MAX_TEXT, Turn, clean

LATIN_OR_COMMON = re.compile(r"[A-Za-zÀ-ɏ0-9]")


def problem(turn: Turn) -> str | None:
    """The catalogue key of a sentence for input that cannot be handled as it is, else None."""
    inbound = turn.inbound
    if inbound.kind == "media":
        return "input.media"
    if inbound.kind != "text":
        return None
    text = clean(inbound.text)
    if not text:
        return "input.empty"
    if not any(character.isalnum() for character in text):
        return "input.emoji"
    if not LATIN_OR_COMMON.search(text):
        return "input.other_language"
    return None


def was_cut(turn: Turn) -> bool:
    return len(turn.inbound.text) > MAX_TEXT
