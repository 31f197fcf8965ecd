"""QR codes for outreach material: one per channel, each tagged with the place it hangs (the source).

The source is an outreach tag ("fritidsgarden", "affisch-vallingby"), never anything about a person: it only
lets the unit count which posters work. Telegram carries it in the deep link, the web chat in `?k=`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import segno

SOURCE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
TELEGRAM_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
DEFAULT_CHAT_BASE = "http://127.0.0.1:8080"
DEFAULT_KEYWORD = "HEJ"
ERROR_LEVEL = "m"  # survives a crease or a bit of dirt on a poster
SCALE = 10


class QRError(ValueError):
    """A value that cannot go into a code; the message says which and how to fix it."""


@dataclass(frozen=True)
class Code:
    name: str  # telegram, sms, webchat: the file name's suffix
    payload: str
    qr: segno.QRCode


@dataclass(frozen=True)
class Plan:
    codes: list[Code]
    skipped: list[str]  # sentences: which code was left out and why


def plan(source: str, *, telegram_username: str | None, sms_number: str | None, chat_base: str | None,
         keyword: str = DEFAULT_KEYWORD) -> Plan:  # fmt: skip
    if not SOURCE.fullmatch(source or ""):
        raise QRError("the source must be 1-40 characters of A-Z a-z 0-9 _ - (for example fritidsgarden)")
    codes, skipped = [], []
    username = (telegram_username or "").strip().lstrip("@")
    if not username:
        skipped.append("Telegram: no bot username (give --telegram-username or set UTVAG_TELEGRAM_USERNAME)")
    elif not TELEGRAM_USERNAME.fullmatch(username):
        raise QRError(f"{username!r} is not a Telegram bot username (letters, digits and _, 4-32 characters)")
    else:
        codes.append(_code("telegram", f"https://t.me/{username}?start={source}"))
    if not sms_number:
        skipped.append("SMS: UTVAG_TWILIO_FROM is not set")
    else:
        number = sms_number.strip().replace(" ", "")
        if not re.fullmatch(r"\+?[0-9]{3,15}", number):
            raise QRError("UTVAG_TWILIO_FROM is not a phone number in E.164 form (+46...)")
        if not re.fullmatch(r"[^:;]{1,40}", keyword):
            raise QRError("the SMS keyword must be 1-40 characters without : or ;")
        codes.append(_code("sms", f"SMSTO:{number}:{keyword}"))
    base = (chat_base or DEFAULT_CHAT_BASE).rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise QRError("UTVAG_PUBLIC_URL must start with https:// (or http:// for a test)")
    codes.append(_code("webchat", f"{base}/chat?k={quote(source)}"))
    return Plan(codes, skipped)


def _code(name: str, payload: str) -> Code:
    return Code(name, payload, segno.make(payload, error=ERROR_LEVEL, micro=False, boost_error=False))


def write(source: str, codes: list[Code], out: Path) -> list[Path]:
    """PNG (for print shops) and SVG (for layouts) of each code, named <source>-<channel>.png/.svg."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for code in codes:
        for suffix in ("png", "svg"):
            path = out / f"{source}-{code.name}.{suffix}"
            code.qr.save(str(path), scale=SCALE, border=4, dark="#000", light="#fff")
            written.append(path)
    return written
