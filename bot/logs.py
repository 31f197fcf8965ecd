"""Logging with no personal data: numbers that could be phones or chat ids, and tokens, are masked."""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

from storage.db import describe_error

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
            # A database error's reason (refused, terminated, locked) is kept: describe_error takes only what names no row.
            lines = traceback.format_tb(trace)
            record.exc_text = redact("Traceback (most recent call last):\n" + "".join(lines) + _error_line(error))
            record.exc_info = None
        return True


def _error_line(error: BaseException) -> str:
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(error, SQLAlchemyError):
        return f"{type(error).__qualname__} ({describe_error(error)})"
    return type(error).__qualname__


class RepeatFilter(logging.Filter):
    """The same warning or error again within a minute is counted, not printed; the next one after the minute says how
    many there were. A database outage then costs a line a minute per kind of failure, not hundreds a second."""

    def __init__(self, window: float = 60.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window, self.monotonic = window, monotonic
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # key -> (printed at, repeats held back since)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage() + "\n" + (record.exc_text or ""))
        now = self.monotonic()
        printed = self._seen.get(key)
        if printed is not None and now - printed[0] < self.window:
            self._seen[key] = (printed[0], printed[1] + 1)
            return False
        if printed is not None and printed[1]:
            record.msg, record.args = f"{record.getMessage()} (and {printed[1]} more like it in the last {now - printed[0]:.0f} s)", None
        if len(self._seen) > 1000:  # many different messages: forget the oldest rather than grow
            self._seen.pop(next(iter(self._seen)))
        self._seen[key] = (now, 0)
        return True


def redact(text: str) -> str:
    for pattern in PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for a log collector: time (UTC), level, logger, event, and the traceback when there is
    one. It formats what the filters left, so it carries no more than the text lines do."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        ids = getattr(record, "ids", None)  # logger.info("…", extra={"ids": {"outbox": 12}}): ids of rows, never of people
        if isinstance(ids, dict):
            line["ids"] = {str(key): value for key, value in ids.items() if isinstance(value, int | str)}
        if record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def setup_logging(level: int = logging.INFO, form: str = "text") -> None:
    """Log lines to standard error (the journal): text, or with form "json" one JSON object a line."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if form == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    handler.addFilter(RepeatFilter())  # after redaction, so messages differing only in a masked number count as one
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, quiet in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(quiet)
