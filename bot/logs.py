"""Logging with no personal data: numbers that could be phones or chat ids, and tokens, are masked."""

from __future__ import annotations

import logging
import re
import traceback

# Phone numbers in any common form, chat ids, and bot tokens (`123456:ABC…`). Message texts are never
# passed to a logger in the first place; this filter catches what libraries print about requests.
PATTERNS = (
    re.compile(r"bot\d+:[A-Za-z0-9_-]{20,}"),
    re.compile(r"\d+:[A-Za-z0-9_-]{30,}"),
    re.compile(r"(?<![\w.])(?:\+|00|whatsapp:\+?)?\d[\d \-()]{4,}\d(?![\w.])"),
)
QUIET_LIBRARIES = {
    "httpx": logging.WARNING,  # logs every request URL, which carries the bot token
    "httpcore": logging.WARNING,
    "telegram": logging.WARNING,
    "apscheduler": logging.WARNING,
    "twilio.http_client": logging.WARNING,
    "uvicorn.access": logging.WARNING,
}


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for pattern in PATTERNS:
            message = pattern.sub("[redacted]", message)
        record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            # An exception's message can quote what a person wrote or where they wrote from (a KeyError of their
            # text, a provider's error naming the number): keep where it happened and the type, never the message.
            _, error, trace = record.exc_info
            lines = traceback.format_tb(trace)
            record.exc_text = redact("Traceback (most recent call last):\n" + "".join(lines) + type(error).__qualname__)
            record.exc_info = None
        return True


def redact(text: str) -> str:
    for pattern in PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, quiet in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(quiet)
