import os
import stat

from storage.crypto import Keyring
from tests.runner import utvag


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


def test_db_upgrade_makes_the_tables(tmp_path, keys):
    result = utvag("db", "upgrade", env={**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.db").stat().st_size > 0


def test_keys_rotate_reports_progress_and_finishes(tmp_path, keys):
    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
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

    messages = "hej, hur lång är väntetiden?\njag vill ta livet av mig\nkan vi skjuta upp mötet?\n"
    result = subprocess.run([UTVAG, "triage", "-"], input=messages, capture_output=True, text=True, env=clean_env({}), cwd=tmp_path)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["level"] for line in lines] == ["normal", "urgent", "normal"]
    assert lines[1]["reasons"] and lines[0]["reasons"] == []


def test_report_prints_the_numbers_as_a_table_and_as_json(tmp_path, keys):
    import json

    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    table = utvag("report", env=env, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "queue" in table.stdout and "outcomes" in table.stdout
    numbers = json.loads(utvag("report", "--json", env=env, cwd=tmp_path).stdout)
    assert {"open", "queue", "outcomes"} <= set(numbers)
