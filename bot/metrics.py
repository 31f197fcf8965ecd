"""Prometheus metrics for `GET /metrics`: counts by channel, case type and state only, never anything about a person.

Counters are kept in this process (since its start); the queue, the outbox and the promises are read from the
database at each scrape, so every process of a deployment reports the same numbers for them."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Callable
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from storage.models import Case, CaseState, OutboxItem

log = logging.getLogger(__name__)

# Seconds the engine takes over one inbound message (load, handler, save): a handful of milliseconds normally.
ENGINE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOOPBACK_ONLY = "Metrics are answered on 127.0.0.1 only: set UTVAG_METRICS_TOKEN and send it as 'Authorization: Bearer …'.\n"
FORWARDED = ("x-forwarded-for", "forwarded", "x-real-ip")  # set by a proxy: the caller is not who is on loopback
WRONG_CREDENTIAL = "The metrics token is missing or wrong: send UTVAG_METRICS_TOKEN as 'Authorization: Bearer …'.\n"


class Metrics:
    """The process's counters, and a collector that reads the queue and the outbox when scraped."""

    def __init__(self, sessions: sessionmaker[Session] | None = None, now: Callable[[], datetime] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        registry = self.registry
        self.inbound = Counter("utvag_inbound_messages", "Inbound messages accepted (duplicates left out)", ["channel"], registry=registry)
        self.outbound = Counter("utvag_outbound_messages", "Outbox rows delivered to the provider", ["channel"], registry=registry)
        self.send_failures = Counter("utvag_send_failures", "Outbox rows that failed for good or became uncertain (never resent)",
                                     ["channel", "outcome"], registry=registry)  # fmt: skip
        self.rate_limited = Counter("utvag_provider_rate_limited", "Sends the provider answered with 429 (retried later)", ["channel"],
                                    registry=registry)  # fmt: skip
        self.handler_errors = Counter("utvag_handler_errors", "Inbound messages whose handler failed (the person got an apology)",
                                      registry=registry)  # fmt: skip
        self.engine_seconds = Histogram("utvag_engine_seconds", "Time the engine took over one inbound message", buckets=ENGINE_BUCKETS,
                                        registry=registry)  # fmt: skip
        self.checkins_sent = Counter("utvag_checkins_sent", "Check-ins queued to participants", registry=registry)
        self.checkins_answered = Counter("utvag_checkins_answered", "Answers to check-ins and incident outreach", registry=registry)
        if sessions is not None and now is not None:
            registry.register(DatabaseCollector(sessions, now))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class DatabaseCollector(Collector):
    """Gauges read at scrape time: outbox depth and age, the queue by case type and urgency, promises, urgent alerts."""

    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime]) -> None:
        self.sessions, self.now = sessions, now

    def collect(self):  # type: ignore[no-untyped-def]
        now = self.now()
        depth = GaugeMetricFamily("utvag_outbox_pending", "Outbox rows waiting to be sent, by lane (0 replies and alerts, 1 bulk)",
                                  labels=["lane"])  # fmt: skip
        oldest = GaugeMetricFamily("utvag_outbox_oldest_pending_seconds", "Age of the oldest outbox row still waiting to be sent")
        stuck = GaugeMetricFamily("utvag_outbox_rows", "Outbox rows that will never be sent, by status", labels=["status"])
        queue = GaugeMetricFamily("utvag_queue_cases", "Cases not closed, by type and urgency", labels=["kind", "urgent"])
        promises = GaugeMetricFamily("utvag_promises", "Cases not closed whose promised time is near (at_risk) or past (broken)",
                                     labels=["state"])  # fmt: skip
        unacknowledged = GaugeMetricFamily("utvag_urgent_unacknowledged", "Urgent cases nobody has acknowledged")
        with self.sessions() as session:
            pending = dict(session.execute(select(OutboxItem.lane, func.count()).where(OutboxItem.status == "pending")
                                           .group_by(OutboxItem.lane)).all())  # fmt: skip
            for lane in (0, 1):
                depth.add_metric([str(lane)], pending.get(lane, 0))
            first = session.scalar(select(func.min(OutboxItem.created_at)).where(OutboxItem.status == "pending"))
            oldest.add_metric([], max(0.0, (now - first).total_seconds()) if first is not None else 0.0)
            given_up = dict(session.execute(select(OutboxItem.status, func.count()).where(OutboxItem.status.in_(("failed", "uncertain")))
                                            .group_by(OutboxItem.status)).all())  # fmt: skip
            for status in ("failed", "uncertain"):
                stuck.add_metric([status], given_up.get(status, 0))
            open_cases = Case.state != CaseState.CLOSED
            for kind, urgent, count in session.execute(select(Case.kind, Case.urgent, func.count()).where(open_cases)
                                                       .group_by(Case.kind, Case.urgent)).all():  # fmt: skip
                queue.add_metric([kind, "true" if urgent else "false"], count)
            broken = session.scalar(select(func.count()).where(open_cases, Case.breached_at.is_not(None))) or 0
            at_risk = session.scalar(select(func.count()).where(open_cases, Case.warned_at.is_not(None), Case.breached_at.is_(None))) or 0
            promises.add_metric(["at_risk"], at_risk)
            promises.add_metric(["broken"], broken)
            unacknowledged.add_metric([], session.scalar(select(func.count()).where(open_cases, Case.urgent.is_(True),
                                                                                    Case.acknowledged_at.is_(None))) or 0)  # fmt: skip
        yield from (depth, oldest, stuck, queue, promises, unacknowledged)


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_route(metrics: Metrics, *, token: str | None, behind_proxy: bool) -> Route:
    """GET /metrics: with a token set, for whoever sends it; without one, for loopback callers only, and never when the
    request came through a proxy (the proxy calls from loopback for the whole internet)."""

    async def endpoint(request: Request) -> Response:
        if token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return PlainTextResponse(WRONG_CREDENTIAL, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        elif (
            behind_proxy
            or any(name in request.headers for name in FORWARDED)
            or not is_loopback(request.client.host if request.client else None)
        ):
            return PlainTextResponse(LOOPBACK_ONLY, status_code=403)
        body = await asyncio.to_thread(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return Route("/metrics", endpoint, methods=["GET"])
