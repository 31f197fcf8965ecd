"""Rate control for Twilio: outbound segments paced per sender with a priority lane, and an inbound flood guard."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]

BULK_SLOWDOWN_SECONDS = 60.0
BULK_MIN_FACTOR = 0.125  # repeated queue overflows halve the bulk rate down to an eighth, never to nothing

# Twilio counts a sender's segments over any one-second window at the moment each request reaches it, and a request
# reaches it some milliseconds after we admit it here (the dispatcher's claim transaction, a worker thread, the HTTP
# round trip), by a different amount each time. Counting over a window a little longer than a second keeps that
# jitter from moving one segment too many into Twilio's second; it costs 1 - 1/1.04 ≈ 4 % of the limit (9.6 of 10
# segments/s), where a window of 1.05 s would leave the rate at 95.2 %, with nothing to spare for the event loop's
# own lateness, against a goal of 95 %. A stall longer than the margin between admission and request (tens of
# milliseconds or more) can still cost a 429; only counting at the request itself would cover that.
WINDOW_MARGIN_SECONDS = 0.04
WINDOW_SECONDS = 1.0 + WINDOW_MARGIN_SECONDS
_EPSILON = 1e-9  # float slack when comparing segment sums with a fractional limit


class SenderBusy(Exception):
    """The sender's queue would hold this message too long; give the row back to the outbox instead."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("sender busy")
        self.retry_after = retry_after


@dataclass
class Admission:
    """One send counted in a sender's window until `until`; `restamp` moves that on when the request really leaves."""

    until: float
    segments: float
    span: float  # how long it counts, from the moment it goes


@dataclass
class _Sender:
    # (until, segments) of each send admitted in the last window, oldest first; `until` only ever grows, because a
    # message longer than the limit is admitted into an empty window only and fills it until it leaves.
    window: deque[Admission] = field(default_factory=deque)
    waiting: list[tuple[int, int]] = field(default_factory=list)  # heap of (lane, arrival ticket)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    bulk_factor: float = 1.0
    bulk_slow_until: float = 0.0
    bulk_next: float = 0.0  # when slowed, the earliest time the next bulk segment may go


class Pacer:
    """A sliding window per sender (From number) counted in segments, shared by both lanes.

    No window of WINDOW_SECONDS (a second and a margin for request jitter) ever holds more than `segments_per_second`
    segments admitted for one sender (a longer message goes alone), which is how Twilio counts a sender's messages
    per second (MPS): anything faster is refused with 429 / 20429. Beyond that, Twilio queues what a number cannot
    send at once (a long code drains about one segment a second) and refuses with 21611/30001 when that queue
    overflows; pacing here keeps the queue short, so a reply is never stuck behind a bulk run. Lane 0 waiters always
    go before lane 1 waiters of the same sender, and within a lane they go in order of arrival.

    `burst` is accepted so that existing callers keep working, and ignored: the window itself allows at most
    `segments_per_second` segments at once, and no more in any second after that.
    """

    def __init__(
        self,
        segments_per_second: float = 1.0,
        *,
        burst: float | None = None,
        max_wait: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if segments_per_second <= 0:
            raise ValueError("segments_per_second must be positive")
        del burst  # ignored, see the class docstring
        self.rate = segments_per_second
        # The dispatcher holds the outbox row `sending` while we wait and calls a row stale after 120 s, so
        # a waiter gives up well before that (with the request timeout on top) and the row is retried later.
        self.max_wait = max_wait
        self.clock = clock
        self._senders: dict[str, _Sender] = {}
        self._tickets = itertools.count()

    def _state(self, sender: str) -> _Sender:
        state = self._senders.get(sender)
        if state is None:
            state = self._senders[sender] = _Sender()
        return state

    def _update(self, state: _Sender, now: float) -> None:
        while state.window and state.window[0].until <= now:
            state.window.popleft()
        if state.bulk_slow_until and now >= state.bulk_slow_until:
            state.bulk_factor, state.bulk_slow_until, state.bulk_next = 1.0, 0.0, 0.0

    def time_until(self, sender: str, segments: int, lane: int) -> float:
        """Seconds until this sender could send `segments` in `lane`, ignoring other waiters (0 = now)."""
        state = self._state(sender)
        now = self.clock()
        self._update(state, now)
        # A message longer than the limit counts as the whole limit: it goes into an empty window.
        excess = sum(entry.segments for entry in state.window) + min(float(segments), self.rate) - self.rate
        wait = 0.0
        if excess > _EPSILON:
            for entry in sorted(state.window, key=lambda entry: entry.until):  # the first to leave, first
                excess -= entry.segments
                if excess <= _EPSILON:
                    wait = entry.until - now
                    break
        if lane != 0 and state.bulk_slow_until:
            wait = max(wait, state.bulk_next - now)
        return wait

    def _admit(self, state: _Sender, segments: int, lane: int) -> Admission:
        now = self.clock()
        # A message longer than the limit fills the window for as many windows as its segments need at the limit
        # (3 segments at 1 a second: 3 windows), a debt that keeps the long-run rate while nothing is too long to
        # ever be sent.
        span = WINDOW_SECONDS * max(1.0, segments / self.rate)
        admission = Admission(now + span, min(float(segments), self.rate), span)
        state.window.append(admission)
        if lane != 0 and state.bulk_slow_until:
            state.bulk_next = now + segments / (self.rate * state.bulk_factor)
        return admission

    def answered(self, admission: Admission) -> None:
        """Its request has been answered, so it reached Twilio before now: it counts until a window after now at the
        least. Usually that changes nothing; it matters when a request was slow to get there (a cold connection)."""
        admission.until = max(admission.until, self.clock() + admission.span - WINDOW_MARGIN_SECONDS)

    def restamp(self, admission: Admission) -> None:
        """The request is leaving now: count it from now. Between admission and the request there can be a thread
        hand-off, a database claim or a cold HTTP connection (0.1–0.35 s measured); Twilio counts on arrival.
        Safe from a worker thread: one float assignment, and the window only ever gets more careful."""
        admission.until = max(admission.until, self.clock() + admission.span)

    def bulk_rate(self, sender: str) -> float:
        """The bulk lane's current segments per second for this sender."""
        state = self._state(sender)
        self._update(state, self.clock())
        return self.rate * state.bulk_factor

    def slow_bulk(self, sender: str, seconds: float = BULK_SLOWDOWN_SECONDS) -> None:
        """Halve the bulk lane's rate for a while (Twilio's queue overflowed); lane 0 keeps the full rate."""
        state = self._state(sender)
        now = self.clock()
        self._update(state, now)
        state.bulk_factor = max(BULK_MIN_FACTOR, state.bulk_factor / 2)
        state.bulk_slow_until = now + seconds
        self._notify(state)

    async def acquire(self, sender: str, segments: int, lane: int, urgent: bool = False) -> Admission:
        """Wait for this sender's turn; raises SenderBusy instead of waiting longer than max_wait."""
        state = self._state(sender)
        # The answer to someone in danger first, then other lane-0 messages, then bulk; in arrival order within each.
        ticket = (-1 if urgent else 0 if lane == 0 else 1, next(self._tickets))
        heapq.heappush(state.waiting, ticket)
        deadline = self.clock() + self.max_wait
        try:
            while True:
                wait: float | None = None
                if state.waiting[0] == ticket:
                    wait = self.time_until(sender, segments, lane)
                    if wait <= 0:
                        return self._admit(state, segments, lane)
                remaining = deadline - self.clock()
                if remaining <= 0:
                    raise SenderBusy(retry_after=max(wait or 0.0, 1.0))
                changed = state.changed  # taken before awaiting: a notify after this line still wakes us
                try:
                    await asyncio.wait_for(changed.wait(), min(wait, remaining) if wait is not None else remaining)
                except TimeoutError:
                    pass
        finally:
            if ticket in state.waiting:
                state.waiting.remove(ticket)
                heapq.heapify(state.waiting)
            self._notify(state)  # the next head must look again

    @staticmethod
    def _notify(state: _Sender) -> None:
        changed, state.changed = state.changed, asyncio.Event()
        changed.set()


@dataclass
class _Flow:
    tokens: float
    updated: float
    started: float  # when this episode (a run of messages without a quiet gap) began
    count: int = 0
    flooding: bool = False


class FloodGuard:
    """An inbound token bucket per sender: notices a flood once per episode; it never drops anything."""

    def __init__(self, limit: int = 10, per_seconds: float = 10.0, quiet_seconds: float = 60.0, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.refill = limit / per_seconds
        self.quiet = quiet_seconds
        self.clock = clock
        self._flows: dict[str, _Flow] = {}
        self._pruned = clock()

    def hit(self, key: str) -> tuple[int, float] | None:
        """Count one message; returns (messages, seconds) of the episode when it first becomes a flood."""
        now = self.clock()
        self._prune(now)
        flow = self._flows.get(key)
        if flow is None or now - flow.updated >= self.quiet:
            flow = self._flows[key] = _Flow(tokens=float(self.limit), updated=now, started=now)
        flow.tokens = min(float(self.limit), flow.tokens + (now - flow.updated) * self.refill)
        flow.updated = now
        flow.count += 1
        if flow.tokens >= 1:
            flow.tokens -= 1
            return None
        if flow.flooding:
            return None  # one notice per episode
        flow.flooding = True
        return flow.count, now - flow.started

    def flooding(self, key: str) -> bool:
        flow = self._flows.get(key)
        return flow is not None and flow.flooding and self.clock() - flow.updated < self.quiet

    def _prune(self, now: float) -> None:
        # Forget quiet senders, so the table does not grow with every number that ever wrote.
        if now - self._pruned < self.quiet:
            return
        self._pruned = now
        for key in [key for key, flow in self._flows.items() if now - flow.updated >= self.quiet]:
            del self._flows[key]
