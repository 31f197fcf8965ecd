"""The outbox dispatcher: delivers queued messages in order per address, with retries, in two lanes.

Delivery policy (at most once). Before a send, the row is marked `sending` and committed; after it,
`sent`. If the process dies between the two, nobody can know whether the provider delivered it:
Telegram and Twilio accept no idempotency key. Sending again could tell a person the same thing
twice or, worse, repeat a message someone else now reads on their phone, so such a row is never
resent: after `STALE_AFTER` it becomes `uncertain`. The same goes for a send that ends in an error
we do not recognise. Only failures that say the provider did not take the message (rate limits,
refused connections, 5xx) are retried. Channels whose send is harmless to repeat (the web chat only
shows a stored row) declare `idempotent_send` and are retried after a crash too.

Shape. Each lane's loop starts a task per address with due messages (up to SEND_CONCURRENCY people at once; staff
posts and on-call SMS always) and keeps starting them while earlier ones wait for their provider's pace, so
nothing waits for anything but its own address's older messages. Pacing comes before the claim: a crash while
waiting leaves the row `pending`, to be sent once later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby

from sqlalchemy import and_, func, not_, or_, select, update
from sqlalchemy.orm import Session, defer, sessionmaker, undefer

from bot.channels.base import Channel, Outbound, PermanentSendError, TransientSendError, UncertainSendError
from bot.clock import Clock
from bot.metrics import Metrics
from handlers.catalogue import Catalogue
from handlers.turn import Option
from storage.db import scrub
from storage.models import Case, ChannelIdentity, Contact, Message, OutboxItem

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=120)  # far above any provider request timeout
BATCH = 100
SEND_CONCURRENCY = 16
SWEEP_EVERY = 5.0  # seconds between looks for rows a dead process left `sending`
NOT_STARTED_WAIT = 5.0  # seconds a message for a channel that has not started yet waits before it is looked at again
# When staff posts pile up they go out together, as one post: Telegram takes about 20 posts a minute in a group,
# so a busy hour's alerts would otherwise wait minutes for their turn. Telegram takes 4096 characters and 100
# buttons a message; these stay under both.
JOIN_AFTER_WAIT = 1.5  # seconds a post waited for the group's turn: more than the one-a-second spacing
STAFF_POST_ITEMS = 80
STAFF_POST_CHARS = 4000  # of the 4096 Telegram takes
STAFF_POST_HEADER = 200  # room kept for the header of a post of brief lines
STAFF_POST_BUTTONS = 40
BRIEF_CHARS = 56  # a staff post as one line of a busy minute's joined post: code, kind and the start of it

Key = tuple[str, int | None, str]  # (channel, identity, target): the unit within which order is kept


@dataclass(frozen=True)
class Due:
    """An outbox row ready to go, with the message as it will go out (read once, in `_due`)."""

    id: int
    channel: str
    identity_id: int | None
    target: str
    lane: int
    outbound: Outbound


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 2.0
    cap_seconds: float = 600.0
    max_attempts: int = 8

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Exponential back-off with full jitter; a provider's retry_after is a floor."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        delay = random.uniform(ceiling / 2, ceiling)
        return max(delay, retry_after or 0.0)


class _Wake:
    """Something to deliver (or room to deliver it): wakes both lanes' loops; each clears only its own."""

    def __init__(self) -> None:
        self.lanes = {0: asyncio.Event(), 1: asyncio.Event()}

    def set(self) -> None:
        for event in self.lanes.values():
            event.set()


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        channels: dict[str, Channel],
        clock: Clock,
        policy: RetryPolicy = RetryPolicy(),
        staff_chat_id: int | None = None,
        on_failed: Callable[[Session, int, str], None] | None = None,
        catalogue: Catalogue | None = None,
        ready: Callable[[str], bool] = lambda _channel: True,
        metrics: Metrics | None = None,
        on_sent: Callable[[str], None] = lambda _channel: None,
    ) -> None:
        self.sessions = sessions
        self.channels = channels
        self.clock = clock
        self.policy = policy
        self.staff_chat_id = staff_chat_id
        self.on_failed = on_failed  # told, in the same transaction, of each message that failed or may have
        self.catalogue = catalogue  # for the header of a busy minute's joined staff post
        self.ready = ready  # False for a channel that could not start yet: its messages wait, their attempts uncounted
        self.wake = _Wake()
        self.metrics = metrics
        self.on_sent = on_sent  # told of each channel's send that worked: /healthz shows when each last did
        # One limit per lane: bulk sends waiting on their pacing must never hold a slot a reply needs.
        self._limits = {0: asyncio.Semaphore(SEND_CONCURRENCY), 1: asyncio.Semaphore(SEND_CONCURRENCY)}
        # What each lane is delivering right now, by address: a slow address (a staff group waiting for its
        # turn, a person's chat paced to one a second) holds only its own task, never the lane.
        self._busy: dict[int, set[Key]] = {0: set(), 1: set()}
        self._tasks: dict[int, set[asyncio.Task[int]]] = {0: set(), 1: set()}
        self._swept = float("-inf")

    async def run(self, lane: int, idle_seconds: float = 1.0) -> None:
        """Deliver one lane forever; lane 0 (replies, urgent alerts) never waits behind lane 1 (bulk).

        Each address's due messages are one task; the loop keeps starting tasks for other addresses while
        earlier ones wait, so nothing due waits for anything but its own address's older messages."""
        wake = self.wake.lanes[lane]
        try:
            while True:
                try:
                    if lane == 0 and time.monotonic() - self._swept >= SWEEP_EVERY:
                        self._swept = time.monotonic()
                        await asyncio.to_thread(self.sweep_stale)
                    started = await self._start_due(lane)
                except Exception:
                    log.exception("dispatcher lane %s failed; retrying", lane)
                    started = 0
                if started == 0:
                    wake.clear()
                    try:
                        await asyncio.wait_for(wake.wait(), idle_seconds)
                    except TimeoutError:
                        pass
        finally:
            for task in list(self._tasks[lane]):
                task.cancel()
            await asyncio.gather(*self._tasks[lane], return_exceptions=True)

    async def deliver_due(self, lane: int) -> int:
        """Deliver what is due now in this lane and wait for it; returns how many messages went out."""
        items = await asyncio.to_thread(self._due, lane, frozenset(self._busy[lane]))
        tasks = [self._spawn(lane, key, list(group)) for key, group in groupby(items, key=_key)]
        return sum(await asyncio.gather(*tasks))

    async def _start_due(self, lane: int) -> int:
        """Start a task for each address with due messages that is not already being worked, up to the lane's limit.

        Staff posts and on-call SMS (rows with no person's identity: a handful of addresses) are outside the limit,
        so a lane full of replies waiting for Telegram's overall pace never holds an alert back."""
        busy = self._busy[lane]
        room = SEND_CONCURRENCY - sum(1 for key in busy if key[1] is not None)
        items = await asyncio.to_thread(self._due, lane, frozenset(busy), room)
        started = 0
        for key, group in groupby(items, key=_key):
            if key in busy or (key[1] is not None and room <= 0):
                continue
            self._spawn(lane, key, list(group))
            started += 1
            room -= key[1] is not None
        return started

    def _spawn(self, lane: int, key: Key, group: list[Due]) -> asyncio.Task[int]:
        self._busy[lane].add(key)
        task = asyncio.create_task(self._deliver_in_order(group))
        self._tasks[lane].add(task)

        def done(finished: asyncio.Task[int]) -> None:
            self._busy[lane].discard(key)
            self._tasks[lane].discard(finished)
            self.wake.lanes[lane].set()  # room for another address, and perhaps this one has more

        task.add_done_callback(done)
        return task

    def _due(self, lane: int, busy: frozenset[Key] = frozenset(), room: int = BATCH) -> list[Due]:
        """The rows ready to go in this lane, grouped by address (the address with the oldest row first), each with
        its message as it will go out; people's addresses only as many as `room`."""
        now = self.clock.now()
        conditions = [OutboxItem.status == "pending", OutboxItem.lane == lane, OutboxItem.next_attempt_at <= now]
        if room <= 0:
            conditions.append(OutboxItem.identity_id.is_(None))  # no room for people: only staff addresses
        # Addresses being worked are left out here, or a long queue for one of them would fill the batch.
        busy_identities = [identity for _, identity, _ in busy if identity is not None]
        if busy_identities:
            conditions.append(or_(OutboxItem.identity_id.is_(None), OutboxItem.identity_id.not_in(busy_identities)))
        for channel, identity, target in busy:
            if identity is None:
                conditions.append(not_(and_(OutboxItem.identity_id.is_(None), OutboxItem.channel == channel, OutboxItem.target == target)))
        with self.sessions() as session:
            # The payloads (encrypted) are read below for the rows chosen, not for the whole batch.
            due = list(session.scalars(select(OutboxItem).where(*conditions).options(defer(OutboxItem.payload))
                                       .order_by(OutboxItem.id).limit(BATCH)))  # fmt: skip
            if len(due) == BATCH:
                # A backlog of replies fills the batch: look for staff posts and on-call SMS behind it as well.
                seen = {item.id for item in due}
                extra = session.scalars(select(OutboxItem).where(*conditions, OutboxItem.identity_id.is_(None))
                                        .order_by(OutboxItem.id).limit(STAFF_POST_ITEMS))  # fmt: skip
                due += [item for item in extra if item.id not in seen]
            if not due:
                return []
            # An address's messages go out in order within a lane: skip it while an older one still waits.
            # Across lanes there is no order, so a reply never waits for a bulk message to the same person.
            identities = {item.identity_id for item in due if item.identity_id is not None}
            oldest = dict(
                session.execute(
                    select(OutboxItem.identity_id, func.min(OutboxItem.id))
                    .where(OutboxItem.identity_id.in_(identities), OutboxItem.lane == lane,
                           OutboxItem.status.in_(("pending", "sending")))
                    .group_by(OutboxItem.identity_id)
                ).all()
            )  # fmt: skip
            first_due: dict[int, int] = {}
            for item in due:
                if item.identity_id is not None:
                    first_due.setdefault(item.identity_id, item.id)
            # By address, oldest first; as many people's addresses as there is room for, and every staff address.
            groups: dict[Key, list[OutboxItem]] = {}
            for item in sorted(due, key=lambda item: item.id):
                if item.identity_id is None or oldest[item.identity_id] >= first_due[item.identity_id]:
                    groups.setdefault(_key(item), []).append(item)
            ready: list[OutboxItem] = []
            # An address with an answer to danger goes first (a stable sort keeps the rest oldest first).
            for key, rows in sorted(groups.items(), key=lambda group: not any(item.kind == "danger" for item in group[1])):
                if key[1] is None or room > 0:
                    ready += rows
                    room -= key[1] is not None
            # Only these are read and decrypted: payloads, transcript rows and addresses in three statements, not per row.
            with_payload = [item.id for item in ready if item.message_id is None]
            if with_payload:
                session.scalars(select(OutboxItem).where(OutboxItem.id.in_(with_payload)).options(undefer(OutboxItem.payload))).all()
            message_ids = [item.message_id for item in ready if item.message_id is not None]
            if message_ids:
                session.scalars(select(Message).where(Message.id.in_(message_ids))).all()
            people = [item.identity_id for item in ready if item.identity_id is not None]
            if people:
                session.scalars(select(ChannelIdentity).where(ChannelIdentity.id.in_(people))).all()
            return [Due(item.id, item.channel, item.identity_id, item.target, item.lane, self._render(session, item)) for item in ready]

    async def _deliver_in_order(self, group: list[Due]) -> int:
        sent = 0
        async with self._limits[group[0].lane] if group[0].identity_id is not None else contextlib.nullcontext():
            for item in group:
                delivered = await (self._deliver_staff_post(item) if item.target == "staff_group" else self._deliver(item))
                if delivered is None:
                    break  # keep the order: later messages wait for this one
                sent += delivered
        return sent

    async def _deliver(self, item: Due) -> int | None:
        """Send one row: the number sent (0 if it was not ours to send), or None if it must be tried again later."""
        channel = self.channels.get(item.channel)
        if channel is None:
            # Not configured here: say so instead of waiting forever.
            await asyncio.to_thread(self._give_up, [item.id], f"{item.channel} is not configured")
            return 0
        if not self.ready(item.channel):
            await asyncio.to_thread(self._retry_later, [item.id], f"{item.channel} has not started yet", NOT_STARTED_WAIT, False)
            return None
        # Wait for the provider's pace before the row is marked `sending`: a crash while waiting then leaves it
        # `pending` (sent later, once) instead of `uncertain` (never sent).
        try:
            await channel.pace(item.outbound)
        except TransientSendError as exc:
            await asyncio.to_thread(self._retry_later, [item.id], str(exc), exc.retry_after, False)
            return None
        if not await asyncio.to_thread(self._claim, item.id):
            channel.unpace(item.outbound)
            return 0  # taken by another worker, or cancelled: either way not ours to wait for
        return await self._send(channel, item.outbound, [item.id], wipe=item.target == "address")

    async def _deliver_staff_post(self, item: Due) -> int | None:
        """Staff posts due at once go out as one post, claimed together once the group's turn has come."""
        channel = self.channels.get(item.channel)
        if channel is None or self.staff_chat_id is None:
            # Staff alerts with no staff group, say: the operator was warned at start-up; don't wait forever.
            await asyncio.to_thread(self._give_up, [item.id], f"{item.channel} is not configured")
            return 0
        if not self.ready(item.channel):
            await asyncio.to_thread(self._retry_later, [item.id], f"{item.channel} has not started yet", NOT_STARTED_WAIT, False)
            return None
        if not await asyncio.to_thread(self._pending, item.id):
            return 0  # already went out, joined to an earlier post
        turn = Outbound(item.channel, str(self.staff_chat_id), "", lane=item.lane)
        asked = time.monotonic()
        try:
            await channel.pace(turn)
        except TransientSendError as exc:
            await asyncio.to_thread(self._retry_later, [item.id], str(exc), exc.retry_after, False)
            return None
        # A calm group gets one post per alert; once posts have had to wait for the group's turn, what is due goes together.
        limit = STAFF_POST_ITEMS if time.monotonic() - asked >= JOIN_AFTER_WAIT else 1
        claimed = await asyncio.to_thread(self._claim_staff_post, item.channel, item.lane, limit)
        if claimed is None:
            channel.unpace(turn)
            return 0
        ids, outbound = claimed
        return await self._send(channel, outbound, ids)

    async def _send(self, channel: Channel, outbound: Outbound, ids: list[int], wipe: bool = False) -> int | None:
        """Send claimed rows as one message and record what happened to them."""
        try:
            provider_id = await channel.send(outbound)
        except TransientSendError as exc:
            if exc.rate_limited and self.metrics is not None:
                self.metrics.rate_limited.labels(outbound.channel).inc()
            await asyncio.to_thread(self._retry_later, ids, str(exc), exc.retry_after)
            return None
        except PermanentSendError as exc:
            await asyncio.to_thread(self._give_up, ids, str(exc))
            return 0
        except UncertainSendError as exc:
            await asyncio.to_thread(self._give_up, ids, str(exc), "uncertain")
            return 0
        except Exception as exc:
            # Unknown: the provider may well have delivered it (a reply we could not parse, say). At most once.
            log.exception("send of outbox items %s ended in an unexpected error; not resending", ids)
            await asyncio.to_thread(self._give_up, ids, f"unexpected {type(exc).__name__}", "uncertain")
            return 0
        await asyncio.to_thread(self._mark_sent, ids, provider_id, wipe)
        self.on_sent(outbound.channel)
        if self.metrics is not None:
            self.metrics.outbound.labels(outbound.channel).inc(len(ids))
        return len(ids)

    def _count_failures(self, session: Session, ids: list[int], status: str) -> None:
        """failed / uncertain rows, by channel, on /metrics."""
        if self.metrics is None or not ids:
            return
        for channel, count in session.execute(select(OutboxItem.channel, func.count()).where(OutboxItem.id.in_(ids))
                                              .group_by(OutboxItem.channel)).all():  # fmt: skip
            self.metrics.send_failures.labels(channel, status).inc(count)

    def _pending(self, item_id: int) -> bool:
        with self.sessions() as session:
            return session.scalar(select(OutboxItem.status).where(OutboxItem.id == item_id)) == "pending"

    def _claim_staff_post(self, channel: str, lane: int, limit: int) -> tuple[list[int], Outbound] | None:
        """Claim the staff posts due in this lane, oldest first, and join them into one post.

        If they fit one message as they are, they go as they are, each button naming its case. If not (a busy
        minute: more alerts than a group can be sent whole), each becomes one short line under a header that
        says how to open a case; as many lines go as fit, the rest wait for the next post."""
        now = self.clock.now()
        with self.sessions.begin() as session:
            due = session.scalars(
                select(OutboxItem).where(OutboxItem.status == "pending", OutboxItem.lane == lane, OutboxItem.channel == channel,
                                         OutboxItem.target == "staff_group", OutboxItem.next_attempt_at <= now)
                .order_by(OutboxItem.id).limit(limit)
            ).all()  # fmt: skip
            parts = [(item, *_content(session, item)) for item in due]
            # An edit changes one earlier post in place: it goes alone, and what came after it waits for the next post.
            edits = [index for index, (_, _, meta) in enumerate(parts) if meta.get("replaces")]
            if edits:
                parts = parts[: max(edits[0], 1)]
            whole = len(parts) == 1 or (sum(len(text) + 2 for _, text, _ in parts) <= STAFF_POST_CHARS
                                        and sum(len(meta.get("options", [])) for _, _, meta in parts) <= STAFF_POST_BUTTONS)  # fmt: skip
            if not whole:
                room, kept = STAFF_POST_CHARS - STAFF_POST_HEADER, []
                for part in parts:
                    room -= len(_brief(part[1])) + 1
                    if room < 0:
                        break
                    kept.append(part)
                parts = kept
            claimed = [part for part in parts if session.execute(
                update(OutboxItem).where(OutboxItem.id == part[0].id, OutboxItem.status == "pending")
                .values(status="sending", attempts=OutboxItem.attempts + 1, claimed_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount == 1]  # fmt: skip
            if not claimed:
                return None
            replaces = answers = None
            if len(claimed) == 1:
                _, text, meta = claimed[0]
                options = [(key, label) for key, label in meta.get("options", [])]
                replaces = meta.get("replaces")
                answers = meta.get("answers")
            elif whole:
                # Several cases in one post: each button says which case it is for.
                case_ids = [item.case_id for item, _, _ in claimed if item.case_id]
                codes = dict(session.execute(select(Case.id, Case.code).where(Case.id.in_(case_ids))).all())
                text = "\n\n".join(text for _, text, _ in claimed)
                options = [(key, f"{codes[item.case_id]} · {label}" if item.case_id in codes else label)
                           for item, _, meta in claimed for key, label in meta.get("options", [])]  # fmt: skip
            else:
                header = self.catalogue.text("sv", "staff.joined", count=str(len(claimed))) if self.catalogue else ""
                text = "\n".join([header, *(_brief(text) for _, text, _ in claimed)]).strip()
                options = []
            buttons = tuple(Option(key, label) for key, label in options)
            outbound = Outbound(channel, str(self.staff_chat_id or ""), text, buttons, lane=lane, replaces=replaces,
                                answers=answers)
            return [item.id for item, _, _ in claimed], outbound

    def _claim(self, item_id: int) -> bool:
        """Mark the row `sending`, unless another worker has it or the person has since asked us to stop."""
        now = self.clock.now()
        # They asked us to stop. What was written with the stop itself (its confirmation) still goes.
        stopped = (
            select(Contact.id).where(Contact.id == OutboxItem.contact_id, Contact.stopped_at.is_not(None),
                                     Contact.stopped_at < OutboxItem.created_at)
            .exists()
        )  # fmt: skip
        mine = and_(OutboxItem.id == item_id, OutboxItem.status == "pending")
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(OutboxItem).where(mine, or_(OutboxItem.target != "contact", ~stopped))
                .values(status="sending", attempts=OutboxItem.attempts + 1, claimed_at=now)
            ).rowcount  # fmt: skip
            if claimed == 1:
                return True
            session.execute(
                update(OutboxItem).where(mine, OutboxItem.target == "contact", stopped)
                .values(status="cancelled", error="the person has opted out")
            )  # fmt: skip
            return False

    def _render(self, session: Session, item: OutboxItem) -> Outbound:
        text, meta = _content(session, item)
        if item.target == "staff_group":
            address = str(self.staff_chat_id or "")
        elif item.target == "address":  # a farewell after erasure: the address lives only in the payload
            address = str(meta.get("address", ""))
        else:
            identity = session.get(ChannelIdentity, item.identity_id)
            address = identity.address if identity else ""
        options = tuple(Option(key, label) for key, label in meta.get("options", []))
        return Outbound(item.channel, address, text, options, bool(meta.get("request_contact")), item.lane, item.kind == "danger",
                        farewell=item.target == "address", replaces=meta.get("replaces"))  # fmt: skip

    def _mark_sent(self, ids: list[int], provider_id: str | None, wipe: bool = False) -> None:
        values: dict[str, object] = {"status": "sent", "sent_at": self.clock.now(), "provider_message_id": provider_id, "error": None}
        if wipe:
            values["payload"] = None  # a farewell to an erased person carried their address; once sent, nothing keeps it
        with self.sessions.begin() as session:
            session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids)).values(values))
        if wipe:
            scrub(self.sessions.kw["bind"])  # the address's old copy must not linger in SQLite's WAL either

    def _retry_later(self, ids: list[int], reason: str, retry_after: float | None, attempted: bool = True) -> None:
        with self.sessions.begin() as session:
            for item_id in ids:
                item = session.get(OutboxItem, item_id)
                if item is None or (not attempted and item.status != "pending"):
                    continue
                if attempted and item.attempts >= self.policy.max_attempts:
                    item.status, item.error = "failed", f"gave up after {item.attempts} attempts: {reason}"[:200]
                    if self.metrics is not None:
                        self.metrics.send_failures.labels(item.channel, "failed").inc()
                    log.warning("outbox item %s failed for good after %s attempts", item_id, item.attempts)
                    self._tell(session, item_id, reason)
                    continue
                item.status, item.error = "pending", reason[:200]
                item.next_attempt_at = self.clock.now() + timedelta(seconds=self.policy.delay(item.attempts, retry_after))

    def _give_up(self, ids: list[int], reason: str, status: str = "failed") -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids)).values(status=status, error=reason[:200]))
            self._count_failures(session, ids, status)
            for item_id in ids:
                self._tell(session, item_id, reason)
            wiped = session.execute(update(OutboxItem).where(OutboxItem.id.in_(ids), OutboxItem.target == "address").values(payload=None))
        if wiped.rowcount:
            scrub(self.sessions.kw["bind"])
        # Not configured is a choice the operator made (and was warned about at start-up), not an incident.
        log.log(logging.DEBUG if reason.endswith("not configured") else logging.WARNING,
                "outbox items %s cannot be delivered: %s", ids, reason)  # fmt: skip

    def _tell(self, session: Session, item_id: int, reason: str) -> None:
        if self.on_failed is not None:
            self.on_failed(session, item_id, reason)

    def due_count(self) -> int:
        """Rows due now on a channel that can send: what a clean stop waits for."""
        ready = [name for name in self.channels if self.ready(name)]
        with self.sessions() as session:
            return session.scalar(
                select(func.count()).select_from(OutboxItem)
                .where(OutboxItem.status == "pending", OutboxItem.next_attempt_at <= self.clock.now(), OutboxItem.channel.in_(ready))
            ) or 0  # fmt: skip

    def sending(self) -> bool:
        """A delivery task is running (read in the event loop's thread)."""
        return any(self._tasks.values())

    def sweep_stale(self) -> int:
        """Rows left `sending` by a dead process: retried where harmless, otherwise `uncertain`."""
        cutoff = self.clock.now() - STALE_AFTER
        stale = and_(OutboxItem.status == "sending", OutboxItem.claimed_at < cutoff)
        idempotent = [name for name, channel in self.channels.items() if channel.info.idempotent_send]
        with self.sessions.begin() as session:
            retried = session.execute(
                update(OutboxItem).where(stale, OutboxItem.channel.in_(idempotent)).values(status="pending")
            ).rowcount
            interrupted = list(session.scalars(select(OutboxItem.id).where(stale)).all())
            self._count_failures(session, interrupted, "uncertain")
            uncertain = session.execute(
                update(OutboxItem).where(stale).values(status="uncertain", error="interrupted while sending")
            ).rowcount
            for item_id in interrupted:
                self._tell(session, item_id, "interrupted while sending")
        if uncertain:
            log.warning("%s outbox items were interrupted while sending and are not resent", uncertain)
        return retried + uncertain


def _key(item: Due) -> Key:
    return (item.channel, item.identity_id, item.target)


def _content(session: Session, item: OutboxItem) -> tuple[str, dict]:
    """A row's text and its extras (options, address of a farewell): from the transcript, or its own payload."""
    if item.message_id is not None:
        message = session.get(Message, item.message_id)
        assert message is not None
        return message.body or "", json.loads(message.meta or "{}")
    payload = json.loads(item.payload or "{}")
    return payload.get("text", ""), payload


def _brief(text: str) -> str:
    """A staff post as one line: its first line, cut to BRIEF_CHARS (the code and what it is come first)."""
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= BRIEF_CHARS else line[: BRIEF_CHARS - 1].rstrip() + "…"
