"""The runtime of `utvag run` and `utvag demo`: storage, channels, engine, dispatcher and web server."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine as Database
from sqlalchemy.orm import Session
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from bot.channels.base import Accepted, Channel, InboundMessage
from bot.channels.telegram import TelegramChannel
from bot.channels.twilio import TwilioChannel
from bot.channels.webchat import WebChatChannel
from bot.clock import Clock, SystemClock
from bot.dashboard.web import Dashboard
from bot.dispatcher import Dispatcher
from bot.engine import Engine
from bot.health import Health
from bot.metrics import Metrics, metrics_route
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.web import Gate, bind_socket, build_app, make_server
from handlers.alerts import alert_flood, alert_undelivered
from handlers.catalogue import Catalogue
from handlers.desk import StaffAction
from handlers.profile import load_profile
from storage.canary import ensure_canary
from storage.crypto import use_keyring
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.staff import staff_by_telegram

log = logging.getLogger(__name__)
WORKER_THREADS = 12
CHANNEL_RETRY_FIRST = 1.0  # seconds before a channel that could not start is tried again; doubling from there
CHANNEL_RETRY_MAX = 60.0  # and never more than this apart
CHANNEL_LOG_EVERY = 60.0  # a channel still down is logged once a minute, not at every try
STOP_POLL = 0.05  # seconds between looks, while stopping, at whether what is in flight has finished


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    database: Database | None = None  # opened and migrated by the caller (`utvag run` checks it first); else here

    def __post_init__(self) -> None:
        use_keyring(self.settings.keyring())
        if self.database is None:
            self.database = make_engine(self.settings.database_url)
            upgrade(self.database)
        self.db = self.database
        self.health = Health(self.db, now=self.clock.now)
        self.channel_retry = (CHANNEL_RETRY_FIRST, CHANNEL_RETRY_MAX)
        self.monotonic = time.monotonic  # when a channel's failures were last logged; tests move it
        self._starting: list[asyncio.Task[None]] = []  # channels that could not start, being tried again
        self.sessions = make_sessionmaker(self.db)
        with self.sessions.begin() as session:
            ensure_canary(session, self.clock.now())  # what `utvag check` reads back to prove the keys fit
        self.metrics = Metrics(self.sessions, self.clock.now)
        self.profile = load_profile(self.settings.profile, timezone=self.settings.timezone)
        self.engine = Engine(self.sessions, self.clock, Catalogue.load(), self.profile, metrics=self.metrics)
        webchat = WebChatChannel(self.sessions, secure_cookie=self._https(), public_url=self.settings.public_url,
                                 catalogue=self.engine.catalogue, on_flood=self._flood)  # fmt: skip
        self.channels: dict[str, Channel] = {"webchat": webchat}
        settings = self.settings
        if settings.telegram_token:
            self.channels["telegram"] = TelegramChannel(
                settings.telegram_token, settings.telegram_api_url,
                webhook_url=settings.telegram_webhook_url, webhook_secret=settings.telegram_webhook_secret,
                poll_timeout=settings.telegram_poll_timeout, staff_chat_id=settings.staff_chat_id,
            )  # fmt: skip
            self.channels["telegram"].on_staff_action = self.accept_staff  # type: ignore[union-attr]
            self.channels["telegram"].is_staff = self.is_staff  # type: ignore[union-attr]
            self.channels["telegram"].on_poll = lambda: self.health.channel_worked("telegram")  # type: ignore[union-attr]
        if settings.twilio_account_sid and settings.twilio_auth_token and (settings.twilio_from or settings.twilio_whatsapp_from):
            twilio = TwilioChannel(
                settings.twilio_account_sid, settings.twilio_auth_token, sessions=self.sessions, api_url=settings.twilio_api_url,
                public_url=settings.public_url or f"http://{settings.http_host}:{settings.http_port}",
                sms_from=settings.twilio_from, whatsapp_from=settings.twilio_whatsapp_from, now=self.clock.now,
                on_undelivered=self._undelivered_report, segments_per_second=settings.twilio_segments_per_second,
                whatsapp_template_sid=self.profile.whatsapp.template_sid or None,
                whatsapp_template_variables=self.profile.whatsapp.variables,
            )  # fmt: skip
            self.channels.update(dict.fromkeys(twilio.names, twilio))  # one adapter, registered as "sms" and/or "whatsapp"
        for name in self.channels:
            self.health.channel_starting(name)  # /healthz says 503 until each has started: nobody is reached through it yet
        self.scheduler = Scheduler(self.engine, self.db, escalate_after=timedelta(minutes=settings.escalate_minutes),
                                   oncall_phone=settings.oncall_phone, on_work=self.wake_dispatcher)  # fmt: skip
        self.health.scheduler = lambda: (self.scheduler.leader, self.scheduler.last_tick)
        self.dispatcher = Dispatcher(self.sessions, self.channels, self.clock, staff_chat_id=settings.staff_chat_id,
                                     on_failed=self._undelivered, catalogue=self.engine.catalogue,
                                     ready=self.health.channel_ready, metrics=self.metrics,
                                     on_sent=self.health.channel_worked)  # fmt: skip
        self._inbound = asyncio.Event()
        self.gate = Gate()  # closed on SIGTERM: new work is answered 503 so providers deliver it again later
        self._draining = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.started = threading.Event()

    def _https(self) -> bool:
        return bool(self.settings.public_url and self.settings.public_url.startswith("https://"))

    async def accept(self, inbound: InboundMessage) -> Accepted:
        accepted = await asyncio.to_thread(self.engine.accept, inbound)
        self.health.channel_worked(inbound.channel)  # the provider reached us: the channel works both ways
        if not accepted.duplicate:
            self.metrics.inbound.labels(inbound.channel).inc()
        self._inbound.set()
        return accepted

    async def is_staff(self, telegram_id: str) -> bool:
        """A registered worker: their private chat with the bot is where numbers come, never a person's conversation."""

        def look() -> bool:
            with self.sessions() as session:
                return staff_by_telegram(session, telegram_id) is not None

        return await asyncio.to_thread(look)

    async def accept_staff(self, provider_id: str, action: StaffAction) -> bool:
        handled = await asyncio.to_thread(self.engine.handle_staff, provider_id, action)
        self.dispatcher.wake.set()
        return handled

    async def process_forever(self, idle_seconds: float = 1.0) -> None:
        while True:
            try:
                handled = await asyncio.to_thread(self.engine.process_pending)
            except Exception:
                log.exception("processing failed; retrying")
                handled = 0
            if handled:
                self.dispatcher.wake.set()
                continue
            if self._draining:
                return  # everything accepted before the stop is handled
            self._inbound.clear()
            try:
                await asyncio.wait_for(self._inbound.wait(), idle_seconds)
            except TimeoutError:
                pass

    def warn_about_configuration(self) -> None:
        if self.settings.staff_chat_id is None or "telegram" not in self.channels:
            log.warning("UTVAG_STAFF_CHAT_ID or UTVAG_TELEGRAM_TOKEN is not set: staff alerts are not delivered")
        if "sms" not in self.channels or not self.settings.oncall_phone:
            log.warning("Twilio or UTVAG_ONCALL_PHONE is not set: escalation of urgent alerts by SMS is off")

    async def _flood(self, what: str) -> None:
        """A public endpoint is being flooded: one post to staff (the channel calls this once a quarter hour)."""

        def record() -> None:
            with self.sessions.begin() as session:
                alert_flood(session, self.engine.catalogue, what, self.clock.now())

        await asyncio.to_thread(record)
        self.dispatcher.wake.set()

    def _undelivered(self, session: Session, item_id: int, reason: str) -> None:
        alert_undelivered(session, self.engine.catalogue, item_id, reason, self.clock.now())

    async def _undelivered_report(self, item_id: int) -> None:
        """Twilio reported, later, that a message did not arrive."""

        def record() -> None:
            with self.sessions.begin() as session:
                self._undelivered(session, item_id, "not delivered by the network")

        await asyncio.to_thread(record)
        self.wake_dispatcher()

    def wake_dispatcher(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.dispatcher.wake.set)

    def unique_channels(self) -> list[Channel]:
        """One adapter may serve several channel names (Twilio: sms and whatsapp)."""
        return list({id(channel): channel for channel in self.channels.values()}.values())

    def stop(self) -> None:
        """Ask a running `run()` to finish; safe to call from another thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def _signalled(self, signum: int) -> None:
        """The first SIGTERM (or Ctrl+C) stops cleanly; a second one ends the process at once."""
        assert self._stop is not None
        if not self._stop.is_set():
            log.info("stopping: taking no new messages, finishing what was accepted (a second signal stops at once)")
            self._stop.set()
            return
        log.warning("a second stop signal: exiting at once; messages being sent are marked uncertain at the next start")
        logging.shutdown()
        os._exit(128 + signum)

    async def drain(self, tasks: list[asyncio.Task[None]]) -> None:
        """A clean stop: no new updates, handlers in flight finished, then what is due in the outbox delivered, all within
        `stop_seconds`. Anything not handled or delivered by then stays in the database for the next start."""
        deadline = time.monotonic() + self.settings.stop_seconds
        self.health.stopping = True
        self.gate.close()  # webhooks and posts now answer 503: Telegram and Twilio deliver them again later
        self.scheduler.shutdown()  # no new check-ins queued; one being queued finishes under the lock below
        for channel in self.unique_channels():
            stop_receiving = getattr(channel, "stop_receiving", None)
            if stop_receiving is not None and self.health.channel_ready(self._names(channel)[0]):
                try:
                    await stop_receiving()
                except Exception as exc:  # what it had not confirmed comes again and is recognised as a repeat
                    log.warning("%s: stopping its intake failed (%s)", "/".join(self._names(channel)), type(exc).__name__)
        while self.gate.in_flight and time.monotonic() < deadline:  # requests let in before the gate closed
            await asyncio.sleep(STOP_POLL)
        await asyncio.to_thread(self.scheduler.wait_idle)
        self._draining = True
        self._inbound.set()
        engine = next(task for task in tasks if task.get_name() == "engine")
        try:  # the engine's loop returns once everything accepted is handled
            await asyncio.wait_for(asyncio.shield(engine), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            log.warning("stopped before every accepted message was handled; the rest are handled at the next start")
        self.dispatcher.wake.set()
        while time.monotonic() < deadline and (self.dispatcher.sending() or await asyncio.to_thread(self.dispatcher.due_count)):
            await asyncio.sleep(STOP_POLL)
        left = await asyncio.to_thread(self.dispatcher.due_count)
        if left:
            log.warning("stopped with %s messages still due; they are sent at the next start", left)

    def _names(self, channel: Channel) -> list[str]:
        return [name for name, registered in self.channels.items() if registered is channel]

    async def start_channel(self, channel: Channel) -> None:
        """Start a channel; when its provider cannot be reached, keep trying in the background with backoff while the
        web chat, the dashboard and the other channels serve. Its names show as unavailable on /healthz meanwhile."""
        names = self._names(channel)
        try:
            await channel.start(self.accept)
            for name in names:
                self.health.channel_up(name)
        except Exception as exc:
            for name in names:
                self.health.channel_down(name, type(exc).__name__)
            # The class only: a provider's error text can carry the token (PTB's InvalidToken quotes it).
            log.warning("%s cannot start (%s); the rest serves, and it is tried again in the background",
                        "/".join(names), type(exc).__name__)  # fmt: skip
            self._starting.append(asyncio.create_task(self._keep_starting(channel, names), name=f"start-{names[0]}"))

    async def _keep_starting(self, channel: Channel, names: list[str]) -> None:
        first, most = self.channel_retry
        tries, logged = 1, self.monotonic()
        await asyncio.sleep(first)  # it has just failed; tenacity's first try is at once
        retrying = AsyncRetrying(wait=wait_exponential_jitter(multiplier=first, max=most, jitter=first),
                                 retry=retry_if_exception_type(Exception), sleep=asyncio.sleep, reraise=True)  # fmt: skip
        async for attempt in retrying:
            with attempt:
                tries += 1
                try:
                    await channel.start(self.accept)
                except Exception as exc:
                    for name in names:
                        self.health.channel_down(name, type(exc).__name__)
                    if self.monotonic() - logged >= CHANNEL_LOG_EVERY:
                        logged = self.monotonic()
                        log.warning("%s still cannot start (%s, %s tries); trying again", "/".join(names), type(exc).__name__, tries)
                    raise
        for name in names:
            self.health.channel_up(name)
        log.info("%s started after %s tries", "/".join(names), tries)
        self.wake_dispatcher()

    async def run(self, sock: socket.socket | None = None) -> None:
        # Bound first: a busy port stops here, before any channel or the scheduler starts or "running" is said.
        sock = sock or bind_socket(self.settings.http_host, self.settings.http_port)
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        # Every database call runs in a worker thread (asyncio.to_thread). The default pool has cores + 4 threads,
        # 6 here, shared by the engine, 32 send slots and the scheduler; WORKER_THREADS stays below the
        # PostgreSQL pool's 15 connections (5 + 10 overflow), so a thread never waits for a connection.
        self._loop.set_default_executor(ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="utvag-db"))
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._loop.add_signal_handler(signum, self._signalled, signum)
        channels = self.unique_channels()
        routes = [route for channel in channels for route in channel.info.routes]
        routes += Dashboard(self).routes  # the staff dashboard at /staff
        routes.append(metrics_route(self.metrics, token=self.settings.metrics_token, behind_proxy=bool(self.settings.public_url)))
        server = make_server(build_app(routes, self.health.report, self.gate, hsts=self._https()), self.settings.http_host,
                             self.settings.http_port)  # fmt: skip
        tasks = [
            asyncio.create_task(self.process_forever(), name="engine"),
            asyncio.create_task(self.dispatcher.run(lane=0), name="dispatch-priority"),
            asyncio.create_task(self.dispatcher.run(lane=1), name="dispatch-bulk"),
            asyncio.create_task(server.serve(sockets=[sock]), name="web"),
        ]
        self.scheduler.start()
        self.warn_about_configuration()
        try:
            for channel in channels:
                await self.start_channel(channel)
            while not server.started:  # "running" only once the port answers
                if tasks[-1].done():
                    break
                await asyncio.sleep(0.01)
            self.started.set()
            if server.started:
                log.info("utvag is running on http://%s:%s", self.settings.http_host, self.settings.http_port)
            done, _ = await asyncio.wait([*tasks, asyncio.create_task(self._stop.wait())], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task in tasks and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            await self.drain(tasks)
        finally:
            server.should_exit = True
            for starting in self._starting:
                starting.cancel()
            await asyncio.gather(*self._starting, return_exceptions=True)
            for channel in reversed(channels):
                if self.health.channel_ready(self._names(channel)[0]):  # a channel that never started has nothing to stop
                    await channel.stop()
            for task in tasks:
                if task.get_name() != "web":
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.scheduler.shutdown()
            self.db.dispose()
            log.info("utvag stopped")
