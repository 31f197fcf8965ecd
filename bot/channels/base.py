"""The contract every channel meets: one inbound type, one outbound type, typed send failures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from starlette.routing import BaseRoute

from handlers.turn import Inbound, Option


@dataclass(frozen=True)
class InboundMessage:
    """A message as a channel received it: who (raw address), the provider's id, and what."""

    channel: str
    provider_id: str
    address: str
    content: Inbound
    source: str | None = None  # outreach tag (deep-link parameter), never identifying


@dataclass(frozen=True)
class Outbound:
    channel: str
    address: str
    text: str
    options: tuple[Option, ...] = ()
    request_contact: bool = False
    lane: int = 0
    urgent: bool = False  # the answer to someone in danger: ahead of every other reply waiting for the provider
    farewell: bool = False  # the goodbye after an erasure: the person's transcript is already gone
    replaces: str | None = None  # the provider's id of a message to update in place (Telegram: its text and keyboard)
    answers: str | None = None  # the provider's id of the message this one answers (Telegram: shown as a reply to it)


@dataclass(frozen=True)
class Accepted:
    message_id: int | None  # None when it was a duplicate
    contact_id: str

    @property
    def duplicate(self) -> bool:
        return self.message_id is None


Accept = Callable[[InboundMessage], Awaitable[Accepted]]


class TransientSendError(Exception):
    """Worth retrying later (rate limit, network, provider hiccup)."""

    def __init__(self, reason: str, retry_after: float | None = None, *, rate_limited: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.rate_limited = rate_limited  # the provider answered 429: counted on /metrics


class PermanentSendError(Exception):
    """Will never succeed (blocked by the person, unknown chat, opted out)."""


class UncertainSendError(Exception):
    """The provider may or may not have taken it (a timeout after the request went out): never resent."""


@dataclass
class ChannelInfo:
    # True when sending twice is harmless (the web chat only shows a stored message), so a send
    # interrupted by a crash may simply be done again.
    idempotent_send: bool = False
    routes: list[BaseRoute] = field(default_factory=list)


class Channel(Protocol):
    name: str
    info: ChannelInfo

    async def start(self, accept: Accept) -> None: ...

    async def stop(self) -> None: ...

    async def pace(self, message: Outbound) -> None:
        """Wait until the provider's limits allow this message; called before the row is marked `sending`."""
        ...

    def unpace(self, message: Outbound) -> None:
        """Give back a place taken by pace() for a message that will not be sent after all."""
        ...

    async def send(self, message: Outbound) -> str | None:
        """Deliver one message; return the provider's id. Raise Transient/Permanent/UncertainSendError."""
        ...
