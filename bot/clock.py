"""Time as a dependency, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)


class SteppingClock:
    """Real time passing from a chosen start, plus jumps when told: retries fall due, tests skip hours."""

    def __init__(self, start: datetime) -> None:
        import time

        self._monotonic = time.monotonic
        self._start, self._origin, self._offset = start, time.monotonic(), timedelta()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._monotonic() - self._origin) + self._offset

    def advance(self, **delta: float) -> None:
        self._offset += timedelta(**delta)
