"""SMS rendering: numbered options, GSM-7-safe typography, and segment counting (what throughput and price count)."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.turn import Option

MAX_BODY = 1600  # Twilio refuses longer bodies with error 21617

# GSM 03.38 basic character set (without the escape character itself).
# https://www.twilio.com/docs/glossary/what-is-gsm-7-character-encoding
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as ESC + character, so it takes two septets.
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

# Typography with a plain GSM-7 equivalent. One character outside GSM-7 turns the whole message into UCS-2,
# which fits 70 characters a segment instead of 160, so a curly quote would make a text cost two to four times more.
PLAIN = str.maketrans({
    "\u2019": "'", "\u2018": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ", "\u200a": " ",
})  # fmt: skip

GSM7_SINGLE, GSM7_PART = 160, 153  # septets; a long message's parts lose 7 to the concatenation header
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units


def render_sms(text: str, options: Sequence[Option] = ()) -> str:
    """The body to send: the text, then one numbered line per option ("1 Svenska"), GSM-7 where possible."""
    lines = [text.translate(PLAIN).strip()] if text.strip() else []
    lines += [f"{number} {option.label.translate(PLAIN).strip()}" for number, option in enumerate(options, 1)]
    body = "\n".join(lines)
    if _utf16_units(body) <= MAX_BODY:
        return body
    # Never reached by catalogue texts; a cut keeps the message deliverable instead of a permanent 21617.
    # The ellipsis stays GSM-7 in a GSM-7 text, so cutting never makes it UCS-2.
    ellipsis = "..." if is_gsm7(body) else "…"
    room, cut = MAX_BODY - len(ellipsis), []
    for char in body:
        room -= _utf16_units(char)
        if room < 0:
            break
        cut.append(char)
    return "".join(cut).rstrip() + ellipsis


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 basic or extension table."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text)


def segments(text: str) -> int:
    """How many SMS segments a body takes (an empty body still takes one).

    GSM-7: 160 septets alone, 153 per part, extension characters count two and are never split across
    parts. UCS-2: 70 UTF-16 code units alone, 67 per part, surrogate pairs never split.
    """
    if is_gsm7(text):
        units = [2 if char in GSM7_EXTENDED else 1 for char in text]
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        units = [_utf16_units(char) for char in text]
        single, part = UCS2_SINGLE, UCS2_PART
    if sum(units) <= single:
        return 1
    count, used = 1, 0
    for size in units:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return count


def _utf16_units(text: str) -> int:
    # Counted the stricter way (an emoji is two), so a body under the limit here is under Twilio's too.
    return len(text.encode("utf-16-le")) // 2
