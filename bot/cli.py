"""The `utvag` command: run, demo, db upgrade, keys new/rotate, check, backup and restore."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from bot import envfile
from bot.files import create_private
from bot.settings import VAR, Settings, SettingsError, load_settings
from handlers.profile import ProfileError
from storage.crypto import new_pseudonym_key, new_secret_key
from storage.db import DatabaseMissing, owner_only_folder

if TYPE_CHECKING:
    from sqlalchemy import Engine

DEMO_KEYS = VAR / "demo-keys.env"
DEMO_STAFF = VAR / "demo-staff.txt"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="utvag", description="Utväg: a way out. Anonymous chat for SIG.")
    parser.add_argument("--version", action="version", version=f"utvag {_version()}")
    parser.add_argument("--env-file", action="append", type=Path, metavar="PATH",
                        help="read settings from this file, as the service's EnvironmentFile= does (default: $UTVAG_ENV_FILE, "
                             "several separated by :); may be given twice, later files win, the environment wins over both")  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run everything configured")
    demo = commands.add_parser("demo", help="run with no tokens: web chat on 127.0.0.1, SQLite, generated keys")
    demo.add_argument("--port", type=int, default=None)
    demo.add_argument("--sample-data", action="store_true", help="fill the queue with a few made-up cases, through the real engine")
    db = commands.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("--create", action="store_true", help="make a new SQLite file when there is none (PostgreSQL: see the guide)")
    keys = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", required=True)
    new = keys.add_parser("new", help="print fresh keys, or write them to a new file readable by you alone")
    new.add_argument("--out", type=Path, help="write to this new file (mode 0600) instead of printing")
    keys.add_parser("rotate", help="re-encrypt every row under the newest key")
    commands.add_parser("check", help="check every setting, the database, the keys and the providers; exit 0 when all hold")
    backup = commands.add_parser("backup", help="a consistent copy of the database into a new file readable by you alone")
    backup.add_argument("path", type=Path, help="the new file, for example /var/backups/utvag/utvag-$(date +%%F).backup")
    restore = commands.add_parser("restore", help="load a backup into an empty database (or, with --force, over one that holds data)")
    restore.add_argument("path", type=Path, help="a file made by `utvag backup`")
    restore.add_argument("--force", action="store_true", help="replace what the database holds, even while a service uses it")
    staff = commands.add_parser("staff", help="manage staff").add_subparsers(dest="staff_command", required=True)
    add = staff.add_parser("add", help="register a staff member")
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=("staff", "lead"), default="staff")
    add.add_argument("--telegram-id", help="their numeric Telegram user id")
    add.add_argument("--phone", help="their phone, for on-call SMS")
    add.add_argument("--language", choices=("sv", "en"), default="sv")
    add.add_argument("--signoff", help="a first name to sign answers with (default: the unit only)")
    add.add_argument("--password", action="store_true",
                     help="set a dashboard password: asked for, or read from UTVAG_STAFF_PASSWORD in scripts")  # fmt: skip
    staff.add_parser("list", help="list staff")
    remove = staff.add_parser("remove", help="remove a staff member (takes effect on their next action)")
    remove.add_argument("who", help="name or id")
    audit = commands.add_parser("audit", help="the audit trail of a case (for the lead)")
    audit.add_argument("--case", required=True, help="the case code, for example K-7F3A")
    report = commands.add_parser("report", help="the numbers: queue times against the promises, cases, outcomes")
    report.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    qr = commands.add_parser("qr", help="QR codes (PNG and SVG) for posters: Telegram, SMS and web chat, tagged with a source")
    qr.add_argument("--source", required=True, help="where the code hangs, 1-40 of A-Z a-z 0-9 _ - (for example fritidsgarden)")
    qr.add_argument("--out", type=Path, default=Path("qr"), help="folder to write to (default: ./qr/)")
    qr.add_argument("--telegram-username", help="the bot's Telegram username (default: UTVAG_TELEGRAM_USERNAME)")
    qr.add_argument("--keyword", default=None, help="the SMS text the code fills in (default: HEJ)")
    triage = commands.add_parser("triage", help="read messages, one a line; print one JSON line each")
    triage.add_argument("source", nargs="?", help="- for standard input, or a file")
    triage.add_argument("--evaluate", metavar="FILE", type=Path,
                        help="a labelled corpus (tests/handlers/triage_corpus.tsv): recall per category and false alarms")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        envfile.load(args.env_file or [Path(path) for path in os.environ.get("UTVAG_ENV_FILE", "").split(":") if path])
        return COMMANDS[args.command](args)
    except (SettingsError, ProfileError, envfile.EnvFileError) as exc:
        print(f"utvag: {exc}", file=sys.stderr)
        return 2
    except DatabaseMissing as exc:
        print(f"utvag: {exc} (UTVAG_DATABASE_URL): point UTVAG_DATABASE_URL at the service's database, for example with "
              "--env-file /etc/utvag/utvag.env, or make a new one with `utvag db upgrade --create`.", file=sys.stderr)  # fmt: skip
        return 2
    except KeyboardInterrupt:
        return 130


def _version() -> str:
    try:
        return version("utvag")
    except PackageNotFoundError:  # a checkout that was never installed
        return "unknown (not installed)"


def open_database(url: str, *, create: bool) -> Engine:
    """A migrated engine, or a SettingsError naming UTVAG_DATABASE_URL when it cannot be opened (no secret printed)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import describe_error, make_engine, upgrade

    shown = make_url(url).render_as_string(hide_password=True)
    try:
        engine = make_engine(url, create=create)
        upgrade(engine)
    except DatabaseMissing:
        raise
    except OSError as exc:
        raise SettingsError(f"UTVAG_DATABASE_URL points to {shown}, where no database file can be made ({exc.strerror}): "
                            "give a path in a folder the service's user may write to, such as /var/lib/utvag.") from None  # fmt: skip
    except SQLAlchemyError as exc:
        raise SettingsError(f"UTVAG_DATABASE_URL ({shown}) cannot be used ({describe_error(exc)}): check that the server runs "
                            "and that the URL's host, port, user and database are right.") from None  # fmt: skip
    return engine


def bind(settings: Settings) -> socket.socket:
    """The web server's socket, bound before anything else starts, so a busy port stops `run` with one line."""
    from bot.web import bind_socket

    try:
        return bind_socket(settings.http_host, settings.http_port)
    except socket.gaierror:
        raise SettingsError(f"UTVAG_HTTP_HOST ({settings.http_host}) is not an address of this machine: "
                            "give 127.0.0.1 behind a proxy on the same machine.") from None  # fmt: skip
    except OSError as exc:
        raise SettingsError(f"UTVAG_HTTP_PORT: port {settings.http_port} on {settings.http_host} cannot be used ({exc.strerror}): "
                            "stop the program that holds it or choose another port.") from None  # fmt: skip


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
    from bot.app import Runtime
    from bot.dashboard.demo import add_sample_cases, demo_staff
    from bot.logs import setup_logging

    sock = bind(settings)
    database = open_database(settings.database_url, create=True)
    setup_logging(form=settings.log_format)
    runtime = Runtime(settings, database=database)
    name, password = demo_staff(runtime.sessions, DEMO_STAFF, runtime.clock.now())
    if args.sample_data:
        print(f"Sample data: {add_sample_cases(runtime)} new messages from made-up visitors.", flush=True)
    base = f"http://{settings.http_host}:{settings.http_port}"
    print(f"Utväg demo: open {base}/chat to chat (Ctrl+C stops).", flush=True)
    print(f"Staff dashboard: {base}/staff  name: {name}  password: {password}  (kept in {DEMO_STAFF}, mode 0600)", flush=True)
    asyncio.run(runtime.run(sock))
    return 0


def _serve(settings: Settings) -> int:
    from bot.app import Runtime
    from bot.logs import setup_logging
    from storage.db import sqlite_path

    # Everything an operator can get wrong is tried before the first log line: the port, then the database.
    sock = bind(settings)
    path = sqlite_path(settings.database_url)
    new = path is not None and not path.exists()
    database = open_database(settings.database_url, create=True)
    check_keys_fit(settings, database)
    setup_logging(form=settings.log_format)
    if new and path is not None:
        logging.getLogger(__name__).warning("made a new, empty SQLite database at %s; if the service has one elsewhere, "
                                            "set UTVAG_DATABASE_URL to it", path.resolve())  # fmt: skip
    asyncio.run(Runtime(settings, database=database).run(sock))
    return 0


def check_keys_fit(settings: Settings, database: Engine) -> None:
    """Keys that cannot read this database stop `run` before it writes a row under them (the canary says so)."""
    from datetime import UTC, datetime

    from storage.canary import check_canary
    from storage.crypto import use_keyring
    from storage.db import make_sessionmaker

    use_keyring(settings.keyring())
    with make_sessionmaker(database).begin() as session:
        fit = check_canary(session, datetime.now(UTC))
    if not fit.secret_keys_fit:
        raise SettingsError("UTVAG_SECRET_KEYS cannot decrypt what this database holds: put back the key it was written with "
                            "(from the key safe), after the newest one.")  # fmt: skip
    if not fit.pseudonym_key_fits:
        raise SettingsError("UTVAG_PSEUDONYM_KEY is not the one this database was made with, so returning people would be strangers: "
                            "put back the original from the key safe.")  # fmt: skip


def demo_keys(path: Path = DEMO_KEYS) -> dict[str, str]:
    """Keys for the demo, made once and kept readable by the owner only."""
    if not path.exists():
        owner_only_folder(path.parent)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"UTVAG_SECRET_KEYS={new_secret_key()}\nUTVAG_PSEUDONYM_KEY={new_pseudonym_key()}\n")
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def db_command(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from storage.db import sqlite_path

    url = load_settings().database_url
    path = sqlite_path(url)
    new = path is not None and not path.exists()
    open_database(url, create=args.create).dispose()
    shown = path.resolve() if path is not None else make_url(url).render_as_string(hide_password=True)
    print(f"Made a new database at {shown}; it is up to date." if new else f"The database at {shown} is up to date.")
    return 0


def keys_command(args: argparse.Namespace) -> int:
    if args.keys_command == "new":
        keys = f"UTVAG_SECRET_KEYS={new_secret_key()}\nUTVAG_PSEUDONYM_KEY={new_pseudonym_key()}\n"
        if args.out:
            write_private(args.out, keys)
            print(f"Wrote new keys to {args.out} (mode 0600). Keep a copy in the unit's key safe.")
        else:
            print(keys, end="")
        print("# To rotate: put the new secret key first, keep the old ones after it, run `utvag keys rotate`,", file=sys.stderr)
        print("# then remove the old keys. Never change UTVAG_PSEUDONYM_KEY: people are found by it.", file=sys.stderr)
        return 0
    return rotate_keys()


def write_private(path: Path, text: str) -> None:
    """A new file readable and writable by its owner alone, whatever the umask; never over an existing one."""
    try:
        descriptor = create_private(path)
    except FileExistsError:
        raise SettingsError(f"{path} exists already: keys are never overwritten; choose a new file or move the old one away.") from None
    except OSError as exc:
        raise SettingsError(f"{path} cannot be written ({exc.strerror}): check the folder and that you may write there.") from None
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def rotate_keys() -> int:
    from tqdm import tqdm

    from storage.rotation import count_rows, rotate_all

    settings = load_settings()
    keyring = settings.keyring()
    engine = open_database(settings.database_url, create=False)
    with tqdm(total=count_rows(engine), unit="row", desc="re-encrypting") as bar:
        changed = rotate_all(engine, keyring, bar.update)
    print(f"{changed} rows re-encrypted under the newest key. You may now remove the old keys.")
    return 0


def triage_command(args: argparse.Namespace) -> int:
    import json

    from handlers.triage import assess

    if args.evaluate:
        return _evaluate(args.evaluate)
    if args.source is None:
        print("utvag triage: give - (standard input), a file, or --evaluate FILE", file=sys.stderr)
        return 2
    lines = sys.stdin if args.source == "-" else open(args.source, encoding="utf-8")  # noqa: SIM115
    with lines:
        for line in lines:
            assessment = assess(line.rstrip("\n"))
            print(json.dumps({"level": assessment.level, "reasons": list(assessment.reasons)}, ensure_ascii=False), flush=True)
    return 0


def _evaluate(path: Path) -> int:
    from handlers.evaluation import describe, evaluate, read_corpus

    try:
        examples = read_corpus(path)
    except (OSError, ValueError) as exc:
        print(f"utvag triage: {exc}", file=sys.stderr)
        return 2
    splits = sorted({example.split for example in examples})
    for split in [*splits, "all"] if len(splits) > 1 else splits:
        for line in describe(evaluate(examples, split)):
            print(line)
    return 0


def _database():  # type: ignore[no-untyped-def]
    from storage.crypto import use_keyring
    from storage.db import make_sessionmaker

    settings = load_settings()
    use_keyring(settings.keyring())
    return make_sessionmaker(open_database(settings.database_url, create=False))


def staff_command(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from storage.models import AuditAction
    from storage.staff import active_staff, add_staff, audit, find_staff

    password_hash = None
    if args.staff_command == "add" and args.password:
        password_hash = _password_hash()
        if password_hash is None:
            return 2
    sessions = _database()
    now = datetime.now(UTC)
    with sessions.begin() as session:
        if args.staff_command == "add":
            try:
                member = add_staff(session, name=args.name, role=args.role, now=now, telegram_id=args.telegram_id, phone=args.phone,
                                   language=args.language, signoff=args.signoff)  # fmt: skip
            except ValueError as exc:
                print(f"utvag: {exc}.", file=sys.stderr)
                return 2
            member.password_hash = password_hash
            audit(session, actor="cli", action=AuditAction.STAFF_ADDED, now=now, detail=f"staff:{member.id} role {member.role}")
            print(f"Added {member.name} ({member.role}) as staff {member.id}.")
        elif args.staff_command == "list":
            for member in active_staff(session):
                telegram = "telegram yes" if member.telegram_hash else "telegram no"
                phone = "phone yes" if member.phone else "phone no"
                print(f"{member.id}\t{member.name}\t{member.role}\t{telegram}\t{phone}")
        else:
            member = find_staff(session, args.who)
            if member is None:
                print(f"utvag: no staff member {args.who!r}; see `utvag staff list`.", file=sys.stderr)
                return 2
            member.removed_at = now
            audit(session, actor="cli", action=AuditAction.STAFF_REMOVED, now=now, detail=f"staff:{member.id}")
            print(f"Removed {member.name}. Their next action in the staff group is refused.")
    return 0


def _password_hash() -> str | None:
    """An argon2id hash of the password from UTVAG_STAFF_PASSWORD, or asked for twice; None (and a sentence) when unusable."""
    from getpass import getpass

    from bot.dashboard.auth import PasswordTooShort, hash_password

    password = os.environ.get("UTVAG_STAFF_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            print("utvag: no password: set UTVAG_STAFF_PASSWORD, or run this in a terminal to be asked.", file=sys.stderr)
            return None
        password = getpass("Password for the dashboard: ")
        if getpass("The same again: ") != password:
            print("utvag: the two passwords differ; nothing was changed.", file=sys.stderr)
            return None
    try:
        return hash_password(password)
    except PasswordTooShort as exc:
        print(f"utvag: {exc}; nothing was changed.", file=sys.stderr)
        return None


def qr_command(args: argparse.Namespace) -> int:
    from bot.qr import DEFAULT_KEYWORD, QRError, plan, write

    settings = load_settings()
    username = args.telegram_username or os.environ.get("UTVAG_TELEGRAM_USERNAME")
    try:
        codes = plan(args.source, telegram_username=username, sms_number=settings.twilio_from, chat_base=settings.public_url,
                     keyword=args.keyword or DEFAULT_KEYWORD)  # fmt: skip
    except QRError as exc:
        print(f"utvag: {exc}.", file=sys.stderr)
        return 2
    for path in write(args.source, codes.codes, args.out):
        print(f"wrote {path}")
    for reason in codes.skipped:
        print(f"skipped {reason}")
    return 0


def check_command(_args: argparse.Namespace) -> int:
    from bot.checks import FAIL, run_checks

    failed = 0
    for result in run_checks():
        print(result.line(), flush=True)
        failed += result.state == FAIL
    print(f"{failed} check(s) failed." if failed else "Everything checked holds.")
    return 1 if failed else 0


def backup_command(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, backup

    url = load_settings().database_url
    try:
        with _progress("backing up") as progress:
            backup(url, args.path, progress)
    except BackupError as exc:
        print(f"utvag: {exc}", file=sys.stderr)
        return 1
    print(f"Wrote a backup to {args.path} (mode 0600). Its personal fields stay encrypted: keep the keys apart from it.")
    return 0


def restore_command(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, restore

    url = load_settings().database_url
    try:
        with _progress("restoring") as progress:
            restore(url, args.path, force=args.force, progress=progress)
    except BackupError as exc:
        print(f"utvag: {exc}", file=sys.stderr)
        return 1
    print(f"Restored {args.path}; the database is up to date. Start the service and check /healthz and `utvag check`.")
    return 0


@contextlib.contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on standard error, shown only on a terminal and once a run takes longer than a moment."""
    from tqdm import tqdm

    # disable=None: no bar when standard error is not a terminal (the journal, a cron mail); leave=False: gone when done.
    with tqdm(desc=what, unit="step", delay=1.0, file=sys.stderr, disable=None, leave=False) as bar:

        def update(done: int, total: int) -> None:
            bar.total = total
            if done > bar.n:
                bar.update(done - bar.n)  # honours the delay, unlike refresh()

        yield update


def audit_command(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from storage.models import Case
    from storage.staff import audit_trail

    sessions = _database()
    with sessions() as session:
        case = session.scalar(select(Case).where(Case.code == args.case.upper()))
        if case is None:
            print(f"utvag: no case {args.case}.", file=sys.stderr)
            return 2
        for event in audit_trail(session, case.id):
            print(f"{event.at:%Y-%m-%d %H:%M:%S}\t{event.actor}\t{event.action}\t{event.detail or ''}")
    return 0


def report_command(args: argparse.Namespace) -> int:
    import json
    from datetime import UTC, datetime

    from storage.report import report, report_rows

    sessions = _database()
    with sessions() as session:
        numbers = report(session, datetime.now(UTC))
    if args.json:
        print(json.dumps(numbers, default=str, ensure_ascii=False))
    else:
        for section, name, value in report_rows(numbers):
            print(f"{section:10} {name:32} {value}")
    return 0


COMMANDS = {
    "run": run, "demo": demo, "db": db_command, "keys": keys_command, "staff": staff_command, "audit": audit_command,
    "triage": triage_command, "report": report_command, "qr": qr_command, "check": check_command,
    "backup": backup_command, "restore": restore_command,
}  # fmt: skip

if __name__ == "__main__":
    sys.exit(main())
