import os
import stat

import pytest

from storage.crypto import Keyring
from tests.runner import utvag

pytestmark = pytest.mark.e2e  # starts the Runtime or `utvag`: CI runs it again under shifted clocks


def test_run_without_keys_stops_with_one_line_naming_the_setting(tmp_path):
    result = utvag("run", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "UTVAG_SECRET_KEYS is not set" in result.stderr and "utvag keys new" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_malformed_setting_is_named_with_how_to_fix_it(tmp_path, keys):
    result = utvag("run", env={**keys.env(), "UTVAG_HTTP_PORT": "eighty"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("utvag: UTVAG_HTTP_PORT is malformed")
    assert "Traceback" not in result.stderr


def test_a_malformed_key_is_named(tmp_path, keys):
    result = utvag("run", env={**keys.env(), "UTVAG_SECRET_KEYS": "not-a-key"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "UTVAG_SECRET_KEYS is malformed" in result.stderr and "Traceback" not in result.stderr


def test_webhook_mode_refuses_to_start_without_a_secret(tmp_path, keys):
    env = {**keys.env(), "UTVAG_TELEGRAM_TOKEN": "1:x", "UTVAG_TELEGRAM_WEBHOOK_URL": "https://example.org/telegram"}
    result = utvag("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "UTVAG_TELEGRAM_WEBHOOK_SECRET is not set" in result.stderr


def test_settings_are_read_from_a_dot_env_file(tmp_path):
    (tmp_path / ".env").write_text("UTVAG_HTTP_PORT=eighty\n")
    result = utvag("run", env={}, cwd=tmp_path)
    assert "UTVAG_HTTP_PORT is malformed" in result.stderr


def test_keys_new_prints_keys_that_work(tmp_path):
    result = utvag("keys", "new", env={}, cwd=tmp_path)
    values = dict(line.split("=", 1) for line in result.stdout.splitlines())
    keyring = Keyring(values["UTVAG_SECRET_KEYS"].split(","), values["UTVAG_PSEUDONYM_KEY"])
    assert keyring.decrypt(keyring.encrypt("ok")) == "ok"


def test_db_upgrade_makes_the_tables_only_when_asked_to_create_them(tmp_path, keys):
    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    refused = utvag("db", "upgrade", env=env, cwd=tmp_path)
    assert refused.returncode == 2 and not (tmp_path / "x.db").exists()
    assert f"there is no database at {tmp_path}/x.db (UTVAG_DATABASE_URL)" in refused.stderr and "--create" in refused.stderr
    made = utvag("db", "upgrade", "--create", env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == f"Made a new database at {tmp_path}/x.db; it is up to date."
    assert (tmp_path / "x.db").stat().st_size > 0
    again = utvag("db", "upgrade", env=env, cwd=tmp_path)
    assert again.stdout.strip() == f"The database at {tmp_path}/x.db is up to date."


@pytest.mark.parametrize("command", [("staff", "list"), ("report",), ("keys", "rotate"), ("audit", "--case", "K-1234")])
def test_admin_commands_never_make_a_database_of_their_own(tmp_path, keys, command):
    """Run from the wrong folder without the service's settings, they say so instead of working on a new, empty file."""
    result = utvag(*command, env=keys.env(), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"utvag: there is no database at {tmp_path}/var/utvag.db (UTVAG_DATABASE_URL)")
    assert "--env-file" in result.stderr and not (tmp_path / "var").exists()


def test_every_command_reads_the_services_settings_file_as_systemd_would(tmp_path, keys):
    settings = tmp_path / "utvag.env"
    settings.write_text(f"# Utväg\n; written by the operator\nUTVAG_SECRET_KEYS={keys.secret}\nUTVAG_PSEUDONYM_KEY='{keys.pseudonym}'\n"
                        f"UTVAG_DATABASE_URL = sqlite:///{tmp_path}/service.db   \n")  # fmt: skip
    made = utvag("--env-file", str(settings), "db", "upgrade", "--create", env={}, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "service.db").exists()
    added = utvag("staff", "add", "--name", "Sara", env={"UTVAG_ENV_FILE": str(settings)}, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    listed = utvag("--env-file", str(settings), "staff", "list", env={}, cwd=tmp_path)
    assert "Sara" in listed.stdout
    # What the environment says wins over the file, as over .env.
    other = {"UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/other.db"}
    elsewhere = utvag("--env-file", str(settings), "staff", "list", env=other, cwd=tmp_path)
    assert elsewhere.returncode == 2 and "other.db" in elsewhere.stderr
    missing = utvag("--env-file", str(tmp_path / "nope.env"), "staff", "list", env={}, cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith(f"utvag: the settings file {tmp_path}/nope.env does not exist")


def test_an_end_of_line_comment_in_the_settings_file_is_named_and_no_secret_printed(tmp_path, keys):
    settings = tmp_path / "utvag.env"
    settings.write_text(f"UTVAG_SECRET_KEYS={keys.secret}\nUTVAG_PSEUDONYM_KEY={keys.pseudonym}\n"
                        "UTVAG_TELEGRAM_TOKEN=123456:AAEhemligtHemligtHemligt1234   # from @BotFather\n")  # fmt: skip
    result = utvag("--env-file", str(settings), "run", env={}, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("utvag: UTVAG_TELEGRAM_TOKEN is malformed (it ends in a comment, '# from @BotFather'")
    assert "put comments on lines of their own" in result.stderr
    assert "hemligt" not in result.stderr.lower() and keys.secret not in result.stderr


def test_keys_new_writes_a_file_only_its_owner_can_read_whatever_the_umask(tmp_path):
    import subprocess

    from tests.runner import UTVAG, clean_env

    out = tmp_path / "keys.env"
    result = subprocess.run(["sh", "-c", f'umask 022 && exec "{UTVAG}" keys new --out "{out}"'], env=clean_env({}), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    values = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert Keyring([values["UTVAG_SECRET_KEYS"]], values["UTVAG_PSEUDONYM_KEY"]).decrypt(
        Keyring([values["UTVAG_SECRET_KEYS"]], values["UTVAG_PSEUDONYM_KEY"]).encrypt("ok")) == "ok"  # fmt: skip
    assert values["UTVAG_SECRET_KEYS"] not in result.stdout + result.stderr
    before = out.read_text()
    again = utvag("keys", "new", "--out", str(out), env={}, cwd=tmp_path)
    assert again.returncode == 2 and "exists already" in again.stderr and out.read_text() == before


def test_version_comes_from_the_package_metadata(tmp_path):
    from importlib.metadata import version

    result = utvag("--version", env={}, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"utvag {version('utvag')}" and version("utvag") != "0.1.0"


def _file(tmp_path):
    (tmp_path / "afile").write_text("")
    return f"sqlite:///{tmp_path}/afile/utvag.db"


TWILIO_TOKEN = "0123456789abcdef0123456789abcdef"
BAD_SETTINGS = [
    ("UTVAG_DATABASE_URL", lambda tmp: "postgresql://utvag:hemligt@[::1", "not a URL SQLAlchemy can read"),
    ("UTVAG_DATABASE_URL", lambda tmp: "mysql://utvag:hemligt@127.0.0.1/utvag", "unknown database 'mysql'"),
    ("UTVAG_DATABASE_URL", lambda tmp: "postgresql+pg9000://utvag:hemligt@127.0.0.1/utvag", "unknown driver"),
    ("UTVAG_DATABASE_URL", lambda tmp: "postgresql://utvag:hemligt@127.0.0.1:1/utvag", "cannot be used (OperationalError: connection"),
    ("UTVAG_DATABASE_URL", _file, "where no database file can be made ("),
    ("UTVAG_TWILIO_SEGMENTS_PER_SECOND", lambda tmp: "0", "must be above 0"),
    ("UTVAG_TWILIO_ACCOUNT_SID", lambda tmp: "AC12345", "not an Account SID"),
    ("UTVAG_TWILIO_FROM", lambda tmp: "0701234567", "not a phone number in international form"),
    ("UTVAG_ONCALL_PHONE", lambda tmp: "+46 70", "it holds characters it cannot have: space"),
    ("UTVAG_ONCALL_PHONE", lambda tmp: "+4670", "not a phone number in international form"),
    ("UTVAG_PUBLIC_URL", lambda tmp: "chat.example.se", "it needs a scheme and a host"),
]


@pytest.mark.parametrize(("name", "value", "reason"), BAD_SETTINGS)
def test_a_bad_setting_stops_run_with_one_line_that_names_it(tmp_path, keys, name, value, reason):
    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/utvag.db", "UTVAG_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
           name: value(tmp_path)}  # fmt: skip
    result = utvag("run", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"utvag: {name}")
    assert reason in result.stderr
    assert "Traceback" not in result.stderr and "utvag is running" not in result.stderr
    for secret in ("hemligt", keys.secret, keys.pseudonym, TWILIO_TOKEN):
        assert secret not in result.stderr + result.stdout


def test_a_busy_port_stops_run_before_it_says_it_is_running(tmp_path, keys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/utvag.db", "UTVAG_HTTP_PORT": str(port)}
        result = utvag("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr == f"utvag: UTVAG_HTTP_PORT: port {port} on 127.0.0.1 cannot be used (Address already in use): "
        "stop the program that holds it or choose another port.\n"
    )


def test_keys_rotate_reports_progress_and_finishes(tmp_path, keys):
    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    assert utvag("db", "upgrade", "--create", env=env, cwd=tmp_path).returncode == 0
    result = utvag("keys", "rotate", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "re-encrypted under the newest key" in result.stdout
    assert "re-encrypting" in result.stderr  # the progress bar


def test_demo_keys_are_readable_by_the_owner_only(tmp_path):
    from bot.cli import demo_keys

    keys = demo_keys(tmp_path / "var" / "demo-keys.env")
    mode = stat.S_IMODE(os.stat(tmp_path / "var" / "demo-keys.env").st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "var").st_mode) == 0o700  # and the folder Utväg made is the owner's alone
    assert keys == demo_keys(tmp_path / "var" / "demo-keys.env")  # made once, then reused


def test_triage_prints_one_json_line_per_message(tmp_path):
    import json
    import subprocess

    from tests.runner import UTVAG, clean_env

    messages = "hej, hur lång är väntetiden?\njag vill ta livet av mig\nkan vi skjuta upp mötet?\ndom sa ja har till fredag annars\n"
    result = subprocess.run([UTVAG, "triage", "-"], input=messages, capture_output=True, text=True, env=clean_env({}), cwd=tmp_path)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["level"] for line in lines] == ["normal", "urgent", "normal", "check"]
    assert lines[1]["reasons"][0] == "self_harm" and lines[0]["reasons"] == [] and lines[3]["reasons"] == ["threat"]


def test_triage_evaluates_a_labelled_corpus_per_split_and_category(tmp_path):
    import subprocess

    from tests.runner import UTVAG, clean_env

    corpus = tmp_path / "corpus.tsv"
    corpus.write_text("# split, expect, category, text\n"
                      "tune\texplicit\tself_harm\tja vill do\n"
                      "tune\texplicit\tthreat\tvi ses imorgon\n"  # mislabelled on purpose: a miss
                      "held\tnormal\teveryday\thej\n"
                      "held\tnormal\tidiom\tde ska döda mig\n", encoding="utf-8")  # fmt: skip
    result = subprocess.run([UTVAG, "triage", "--evaluate", str(corpus)], capture_output=True, text=True, env=clean_env({}), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "held: 0 danger messages, 2 that must not alarm"
    assert "  false alarms               50.0%  (1/2)" in lines
    assert "  false alarm (urgent threat): de ska döda mig" in lines
    tune = lines.index("tune: 2 danger messages, 0 that must not alarm")
    assert lines[tune + 1 : tune + 3] == ["  recall self_harm       100.0%  (1/1)", "  recall threat            0.0%  (0/1)"]
    assert "  missed (explicit threat, got normal): vi ses imorgon" in lines
    assert "all: 2 danger messages, 2 that must not alarm" in lines

    corpus.write_text("tune\tsometimes\tthreat\thej\n", encoding="utf-8")
    broken = subprocess.run([UTVAG, "triage", "--evaluate", str(corpus)], capture_output=True, text=True, env=clean_env({}), cwd=tmp_path)
    assert broken.returncode == 2 and "corpus.tsv:1: expected split, expect, category and text" in broken.stderr


def test_report_prints_the_numbers_as_a_table_and_as_json(tmp_path, keys):
    import json

    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    assert utvag("db", "upgrade", "--create", env=env, cwd=tmp_path).returncode == 0
    table = utvag("report", env=env, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "queue" in table.stdout and "outcomes" in table.stdout
    numbers = json.loads(utvag("report", "--json", env=env, cwd=tmp_path).stdout)
    assert {"open", "queue", "outcomes"} <= set(numbers)


def test_run_says_when_it_makes_a_new_database_and_that_it_runs_once_the_port_answers(tmp_path, keys):
    from tests.runner import UtvagProcess

    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/new.db"}
    with UtvagProcess(tmp_path, env):
        pass
    first = UtvagProcess(tmp_path, env).logs()
    assert f"made a new, empty SQLite database at {tmp_path}/new.db" in first
    assert first.index("made a new") < first.index("utvag is running")
    with UtvagProcess(tmp_path, env):
        pass
    assert UtvagProcess(tmp_path, env).logs().count("made a new") == 1  # the second start found it


def test_run_with_keys_that_cannot_read_the_database_stops_before_writing(tmp_path, keys):
    from storage.crypto import new_secret_key
    from tests.runner import free_port

    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/keyed.db", "UTVAG_HTTP_PORT": str(free_port())}
    assert utvag("db", "upgrade", "--create", env=env, cwd=tmp_path).returncode == 0
    assert utvag("check", env=env, cwd=tmp_path).returncode == 0  # stores the canary under these keys
    other = new_secret_key()
    result = utvag("run", env={**env, "UTVAG_SECRET_KEYS": other}, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("utvag: UTVAG_SECRET_KEYS cannot decrypt what this database holds: put back the key")
    assert other not in result.stderr and keys.secret not in result.stderr
