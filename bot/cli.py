"""The `utvag` command: run, demo, db upgrade, keys new/rotate."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from bot.settings import VAR, Settings, SettingsError, load_settings
from storage.crypto import new_pseudonym_key, new_secret_key

DEMO_KEYS = VAR / "demo-keys.env"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="utvag", description="Utväg: a way out. Anonymous chat for SIG.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run everything configured")
    demo = commands.add_parser("demo", help="run with no tokens: web chat on 127.0.0.1, SQLite, generated keys")
    demo.add_argument("--port", type=int, default=None)
    db = commands.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations")
    keys = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("new", help="print fresh keys")
    keys.add_parser("rotate", help="re-encrypt every row under the newest key")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except SettingsError as exc:
        print(f"utvag: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run(_args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.check_for_run()
    return _serve(settings)


def demo(args: argparse.Namespace) -> int:
    keys = demo_keys()
    overrides: dict[str, object] = {"secret_keys": keys["UTVAG_SECRET_KEYS"], "pseudonym_key": keys["UTVAG_PSEUDONYM_KEY"],
                                    "telegram_token": None, "database_url": f"sqlite:///{VAR / 'demo.db'}"}  # fmt: skip
    if args.port:
        overrides["http_port"] = args.port
    settings = load_settings(**overrides)
    print(f"Utväg demo: open http://{settings.http_host}:{settings.http_port}/chat to chat (Ctrl+C stops).", flush=True)
    return _serve(settings)


def _serve(settings: Settings) -> int:
    from bot.app import Runtime
    from bot.logs import setup_logging

    setup_logging()
    asyncio.run(Runtime(settings).run())
    return 0


def demo_keys(path: Path = DEMO_KEYS) -> dict[str, str]:
    """Keys for the demo, made once and kept readable by the owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"UTVAG_SECRET_KEYS={new_secret_key()}\nUTVAG_PSEUDONYM_KEY={new_pseudonym_key()}\n")
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def db_command(args: argparse.Namespace) -> int:
    from storage.db import make_engine, upgrade

    upgrade(make_engine(load_settings().database_url))
    print("The database is up to date.")
    return 0


def keys_command(args: argparse.Namespace) -> int:
    if args.keys_command == "new":
        print(f"UTVAG_SECRET_KEYS={new_secret_key()}")
        print(f"UTVAG_PSEUDONYM_KEY={new_pseudonym_key()}")
        print("# To rotate: put the new secret key first, keep the old ones after it, run `utvag keys rotate`,", file=sys.stderr)
        print("# then remove the old keys. Never change UTVAG_PSEUDONYM_KEY: people are found by it.", file=sys.stderr)
        return 0
    return rotate_keys()


def rotate_keys() -> int:
    from tqdm import tqdm

    from storage.db import make_engine, upgrade
    from storage.rotation import count_rows, rotate_all

    settings = load_settings()
    keyring = settings.keyring()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with tqdm(total=count_rows(engine), unit="row", desc="re-encrypting") as bar:
        changed = rotate_all(engine, keyring, bar.update)
    print(f"{changed} rows re-encrypted under the newest key. You may now remove the old keys.")
    return 0


COMMANDS = {"run": run, "demo": demo, "db": db_command, "keys": keys_command}

if __name__ == "__main__":
    sys.exit(main())
