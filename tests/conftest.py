"""Shared fixtures: keys, a migrated database on SQLite and on PostgreSQL, a clock, an engine."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FrozenClock
from bot.engine import Engine as ConversationEngine
from handlers.catalogue import Catalogue
from handlers.profile import load_profile
from storage.crypto import Keyring, new_pseudonym_key, new_secret_key, use_keyring
from storage.db import make_engine, make_sessionmaker, upgrade
from tests import runner
from tests.fakes.tcp_proxy import TcpProxy

POSTGRES_URL = os.environ.get("UTVAG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# CI sets this so a missing server fails the run instead of skipping the PostgreSQL half.
REQUIRE_POSTGRES = os.environ.get("UTVAG_TEST_REQUIRE_POSTGRES") == "1"


@dataclass
class Keys:
    secret: str
    pseudonym: str

    def keyring(self) -> Keyring:
        return Keyring([self.secret], self.pseudonym)

    def env(self) -> dict[str, str]:
        return {"UTVAG_SECRET_KEYS": self.secret, "UTVAG_PSEUDONYM_KEY": self.pseudonym}


@pytest.fixture(autouse=True)
def _e2e_marked(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lets tests/runner.py refuse to start `utvag` or the Runtime in a test not marked e2e."""
    runner.E2E_MARKED = request.node.get_closest_marker("e2e") is not None
    yield
    runner.E2E_MARKED = None


@pytest.fixture
def keys() -> Iterator[Keys]:
    keys = Keys(new_secret_key(), new_pseudonym_key())
    use_keyring(keys.keyring())
    yield keys
    use_keyring(None)


@dataclass
class Database:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    kind: str
    path: Path | None = None  # the SQLite file
    schema: str | None = None  # the PostgreSQL schema


def postgres_available() -> str | None:
    """None when the server answers, otherwise the reason it does not."""
    try:
        probe = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
        with probe.connect() as connection:
            connection.execute(text("select 1"))
        probe.dispose()
        return None
    except Exception as exc:
        return f"no PostgreSQL at {POSTGRES_URL.split('@')[-1]}: {type(exc).__name__}"


def _sqlite(tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "utvag.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    yield Database(url, engine, make_sessionmaker(engine), "sqlite", path=path)
    engine.dispose()


def _postgres() -> Iterator[Database]:
    reason = postgres_available()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    yield Database(url, engine, make_sessionmaker(engine), "postgresql", schema=schema)
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, keys: Keys, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: every test using it runs on SQLite and on PostgreSQL."""
    yield from (_sqlite(tmp_path) if request.param == "sqlite" else _postgres())


@pytest.fixture
def sqlite_db(keys: Keys, tmp_path: Path) -> Iterator[Database]:
    yield from _sqlite(tmp_path)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))


@pytest.fixture
def engine(db: Database, clock: FrozenClock) -> ConversationEngine:
    return ConversationEngine(db.sessions, clock, Catalogue.load(), load_profile())


@pytest.fixture
def postgres_behind_a_proxy() -> Iterator[tuple[str, TcpProxy]]:
    """A fresh schema on the test PostgreSQL, reached through a TCP proxy this test can cut like a server restart."""
    reason = postgres_available()
    if reason:
        (pytest.fail if REQUIRE_POSTGRES else pytest.skip)(reason)
    target = make_url(POSTGRES_URL)
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        url = target.set(port=proxy.port).render_as_string(hide_password=False) + f"?options=-csearch_path%3D{schema}"
        yield url, proxy
    with admin.begin() as connection:
        connection.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()
