"""The outbox dispatcher: delivers queued messages in order per address, with retries, in two lanes.

Delivery policy (at most once). Before a send, the row is marked `sending` and committed; after it,
`sent`. If the process dies between the two, nobody can know whether the provider delivered it:
Telegram and Twilio accept no idempotency key. Sending again could tell a person the same thing
twice or, worse, repeat a message someone else now reads on their phone, so such a row is never
resent: after `STALE_AFTER` it becomes `uncertain`. The same goes for a send that ends in an error
we do not recognise. Only failures that say the provider did not take the message (rate limits,
refused connections, 5xx) are retried. Channels whose send is harmless to repeat (the web chat only
shows a stored row) declare `idempotent_send` and are retried after a crash too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.base import Channel, Outbound, PermanentSendError, TransientSendError, UncertainSendError
from bot.clock import Clock
from handlers.turn import Option
from storage.models import ChannelIdentity, Contact, Message, OutboxItem

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=120)  # far above any provider request timeout
BATCH = 100
SEND_CONCURRENCY = 16


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


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        channels: dict[str, Channel],
        clock: Clock,
        policy: RetryPolicy = RetryPolicy(),
        staff_chat_id: int | None = None,
        on_failed: Callable[[Session, int, str], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.channels = channels
        self.clock = clock
        self.policy = policy
        self.staff_chat_id = staff_chat_id
        self.on_failed = on_failed  # told, in the same transaction, of each message that failed or may have
        self.wake = asyncio.Event()
        # One limit per lane: bulk sends waiting on their pacing must never hold a slot a reply needs.
        self._limits = {0: asyncio.Semaphore(SEND_CONCURRENCY), 1: asyncio.Semaphore(SEND_CONCURRENCY)}

    async def run(self, lane: int, idle_seconds: float = 1.0) -> None:
        """Deliver one lane forever; lane 0 (replies, urgent alerts) never waits behind lane 1 (bulk)."""
        while True:
            try:
                if lane == 0:
                    await asyncio.to_thread(self.sweep_stale)
                sent = await self.deliver_due(lane)
            except Exception:
                log.exception("dispatcher lane %s failed; retrying", lane)
                sent = 0
            if sent == 0:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), idle_seconds)
                except TimeoutError:
                    pass

    async def deliver_due(self, lane: int) -> int:
        items = await asyncio.to_thread(self._due, lane)
        groups = [list(group) for _, group in groupby(items, key=lambda item: (item.channel, item.identity_id, item.target))]
        results = await asyncio.gather(*(self._deliver_in_order(group) for group in groups))
        return sum(results)

    def _due(self, lane: int) -> list[OutboxItem]:
        now = self.clock.now()
        with self.sessions() as session:
            due = session.scalars(
                select(OutboxItem).where(OutboxItem.status == "pending", OutboxItem.lane == lane,
                                         OutboxItem.next_attempt_at <= now)
                .order_by(OutboxItem.id).limit(BATCH)
            ).all()  # fmt: skip
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
        ready = [item for item in due if item.identity_id is None or oldest[item.identity_id] >= first_due[item.identity_id]]
        ready.sort(key=lambda item: (item.channel, item.identity_id or 0, item.target, item.id))
        return ready

    async def _deliver_in_order(self, group: list[OutboxItem]) -> int:
        sent = 0
        async with self._limits[group[0].lane]:
            for item in group:
                if not await self._deliver(item):
                    break  # keep the order: later messages wait for this one
                sent += 1
        return sent

    async def _deliver(self, item: OutboxItem) -> bool:
        channel = self.channels.get(item.channel)
        if channel is None or (item.target == "staff_group" and self.staff_chat_id is None):
            # Not configured here (for example staff alerts with no staff group): say so instead of waiting forever.
            await asyncio.to_thread(self._give_up, item.id, f"{item.channel} is not configured")
            return True
        outbound = await asyncio.to_thread(self._peek, item.id)
        if outbound is None:
            return True  # taken by another worker meanwhile: not ours to wait for
        # Wait for the provider's pace before the row is marked `sending`: a crash while waiting then leaves it
        # `pending` (sent later, once) instead of `uncertain` (never sent).
        try:
            await channel.pace(outbound)
        except TransientSendError as exc:
            await asyncio.to_thread(self._retry_later, item.id, str(exc), exc.retry_after, False)
            return False
        if not await asyncio.to_thread(self._claim, item.id):
            channel.unpace(outbound)
            return True  # taken by another worker, or cancelled: either way not ours to wait for
        try:
            provider_id = await channel.send(outbound)
        except TransientSendError as exc:
            await asyncio.to_thread(self._retry_later, item.id, str(exc), exc.retry_after)
            return False
        except PermanentSendError as exc:
            await asyncio.to_thread(self._give_up, item.id, str(exc))
            return True
        except UncertainSendError as exc:
            await asyncio.to_thread(self._give_up, item.id, str(exc), "uncertain")
            return True
        except Exception as exc:
            # Unknown: the provider may well have delivered it (a reply we could not parse, say). At most once.
            log.exception("send of outbox item %s ended in an unexpected error; not resending", item.id)
            await asyncio.to_thread(self._give_up, item.id, f"unexpected {type(exc).__name__}", "uncertain")
            return True
        await asyncio.to_thread(self._mark_sent, item.id, provider_id)
        return True

    def _peek(self, item_id: int) -> Outbound | None:
        """The message as it will go out, if the row is still waiting; nothing is changed."""
        with self.sessions() as session:
            item = session.get(OutboxItem, item_id)
            return self._render(session, item) if item is not None and item.status == "pending" else None

    def _claim(self, item_id: int) -> bool:
        now = self.clock.now()
        with self.sessions.begin() as session:
            claimed = session.execute(
                update(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.status == "pending")
                .values(status="sending", attempts=OutboxItem.attempts + 1, claimed_at=now)
            ).rowcount  # fmt: skip
            if claimed != 1:
                return False  # another worker has it
            item = session.get(OutboxItem, item_id)
            assert item is not None
            contact = session.get(Contact, item.contact_id) if item.contact_id else None
            if item.target == "contact" and contact and contact.stopped_at and item.created_at > contact.stopped_at:
                # They asked us to stop. What was written with the stop itself (its confirmation) still goes.
                item.status, item.error = "cancelled", "the person has opted out"
                return False
            return True

    def _render(self, session: Session, item: OutboxItem) -> Outbound:
        if item.message_id is not None:
            message = session.get(Message, item.message_id)
            assert message is not None
            text, meta = message.body or "", json.loads(message.meta or "{}")
        else:
            payload = json.loads(item.payload or "{}")
            text, meta = payload.get("text", ""), payload
        if item.target == "staff_group":
            address = str(self.staff_chat_id or "")
        elif item.target == "address":  # a farewell after erasure: the address lives only in the payload
            address = str(meta.get("address", ""))
        else:
            identity = session.get(ChannelIdentity, item.identity_id)
            address = identity.address if identity else ""
        options = tuple(Option(key, label) for key, label in meta.get("options", []))
        return Outbound(item.channel, address, text, options, bool(meta.get("request_contact")), item.lane)

    def _mark_sent(self, item_id: int, provider_id: str | None) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(OutboxItem).where(OutboxItem.id == item_id)
                .values(status="sent", sent_at=self.clock.now(), provider_message_id=provider_id, error=None)
            )  # fmt: skip
            # A farewell to an erased person carried their address; once it is sent, nothing may keep it.
            session.execute(update(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.target == "address").values(payload=None))

    def _retry_later(self, item_id: int, reason: str, retry_after: float | None, attempted: bool = True) -> None:
        with self.sessions.begin() as session:
            item = session.get(OutboxItem, item_id)
            if item is None or (not attempted and item.status != "pending"):
                return
            if attempted and item.attempts >= self.policy.max_attempts:
                item.status, item.error = "failed", f"gave up after {item.attempts} attempts: {reason}"[:200]
                log.warning("outbox item %s failed for good after %s attempts", item_id, item.attempts)
                self._tell(session, item_id, reason)
                return
            item.status, item.error = "pending", reason[:200]
            item.next_attempt_at = self.clock.now() + timedelta(seconds=self.policy.delay(item.attempts, retry_after))

    def _give_up(self, item_id: int, reason: str, status: str = "failed") -> None:
        with self.sessions.begin() as session:
            session.execute(update(OutboxItem).where(OutboxItem.id == item_id).values(status=status, error=reason[:200]))
            self._tell(session, item_id, reason)
            session.execute(update(OutboxItem).where(OutboxItem.id == item_id, OutboxItem.target == "address").values(payload=None))
        # Not configured is a choice the operator made (and was warned about at start-up), not an incident.
        log.log(logging.DEBUG if reason.endswith("not configured") else logging.WARNING,
                "outbox item %s cannot be delivered: %s", item_id, reason)  # fmt: skip

    def _tell(self, session: Session, item_id: int, reason: str) -> None:
        if self.on_failed is not None:
            self.on_failed(session, item_id, reason)

    def sweep_stale(self) -> int:
        """Rows left `sending` by a dead process: retried where harmless, otherwise `uncertain`."""
        cutoff = self.clock.now() - STALE_AFTER
        stale = and_(OutboxItem.status == "sending", OutboxItem.claimed_at < cutoff)
        idempotent = [name for name, channel in self.channels.items() if channel.info.idempotent_send]
        with self.sessions.begin() as session:
            retried = session.execute(
                update(OutboxItem).where(stale, OutboxItem.channel.in_(idempotent)).values(status="pending")
            ).rowcount
            interrupted = session.scalars(select(OutboxItem.id).where(stale)).all()
            uncertain = session.execute(
                update(OutboxItem).where(stale).values(status="uncertain", error="interrupted while sending")
            ).rowcount
            for item_id in interrupted:
                self._tell(session, item_id, "interrupted while sending")
        if uncertain:
            log.warning("%s outbox items were interrupted while sending and are not resent", uncertain)
        return retried + uncertain
