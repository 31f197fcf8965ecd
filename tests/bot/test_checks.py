"""`utvag check` against the stand-ins: one line per check, a clear word, what to do, exit 0 or 1, no secret shown."""

import pytest

from storage.crypto import new_pseudonym_key, new_secret_key
from storage.db import make_engine, upgrade
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.runner import UtvagProcess, free_port, utvag

pytestmark = pytest.mark.e2e  # starts `utvag`: CI runs it again under shifted clocks

STAFF_GROUP = -1009876
SENDER = "+46701234567"


def lines(output: str) -> dict[str, str]:
    """name -> the line, for the lines that are checks ("ok  name: detail")."""
    found = {}
    for line in output.splitlines():
        word, _, rest = line.partition("  ")
        if word.strip() in ("ok", "FAIL", "skip"):
            found[rest.split(":", 1)[0].strip()] = line
    return found


def settings(tmp_path, keys, api, sms, **more: str) -> dict[str, str]:
    return {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/check.db", "UTVAG_TELEGRAM_TOKEN": api.token,
            "UTVAG_TELEGRAM_API_URL": api.base_url, "UTVAG_STAFF_CHAT_ID": str(STAFF_GROUP),
            "UTVAG_TWILIO_ACCOUNT_SID": sms.account_sid, "UTVAG_TWILIO_AUTH_TOKEN": sms.auth_token, "UTVAG_TWILIO_FROM": SENDER,
            "UTVAG_TWILIO_API_URL": sms.url, **more}  # fmt: skip


def test_everything_holds_against_a_running_service(tmp_path, keys):
    with FakeBotAPI() as api, FakeTwilioAPI() as sms:
        api.groups.add(STAFF_GROUP)
        env = settings(tmp_path, keys, api, sms)
        assert utvag("db", "upgrade", "--create", env=env, cwd=tmp_path).returncode == 0
        with UtvagProcess(tmp_path, env) as service:
            result = utvag("check", env={**env, "UTVAG_PUBLIC_URL": service.url}, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    found = lines(result.stdout)
    assert list(found) == ["settings", "database", "migrations", "keys", "telegram", "staff group", "twilio", "public url"]
    assert all(line.startswith("ok") for line in found.values()), result.stdout
    assert "@utvag_test_bot" in found["telegram"] and "stored now" not in found["keys"]  # the service stored the canary
    assert result.stdout.strip().endswith("Everything checked holds.")
    assert any(call["method"] == "getChat" for call in api.calls())


def test_each_failure_is_named_with_what_to_do_and_no_secret_shown(tmp_path, keys):
    with FakeBotAPI() as api, FakeTwilioAPI() as sms:
        env = settings(tmp_path, keys, api, sms)
        assert utvag("db", "upgrade", "--create", env=env, cwd=tmp_path).returncode == 0
        assert utvag("check", env=env, cwd=tmp_path).returncode == 1  # the group is not known yet: stores the canary anyway
        wrong = {**env, "UTVAG_SECRET_KEYS": new_secret_key(), "UTVAG_TELEGRAM_TOKEN": "123456:AAhemligtHemligtHemligtHemligt1",
                 "UTVAG_TWILIO_AUTH_TOKEN": "f" * 32, "UTVAG_PUBLIC_URL": api.url}  # fmt: skip
        result = utvag("check", env=wrong, cwd=tmp_path)
        unknown_group = utvag("check", env=env, cwd=tmp_path)
        strangers = utvag("check", env={**env, "UTVAG_PSEUDONYM_KEY": new_pseudonym_key()}, cwd=tmp_path)
    assert result.returncode == 1
    found = lines(result.stdout)
    assert found["settings"].startswith("ok") and found["database"].startswith("ok") and found["migrations"].startswith("ok")
    assert found["keys"].startswith("FAIL  keys: UTVAG_SECRET_KEYS cannot decrypt what this database holds: put back the key")
    assert found["telegram"].startswith("FAIL  telegram: Telegram refuses the token: copy it again from @BotFather")
    assert found["staff group"].startswith("skip")
    assert found["twilio"].startswith("FAIL  twilio: Twilio refuses the Account SID and Auth Token")
    assert found["public url"].startswith(f"FAIL  public url: {api.url}/healthz answers HTTP 404, not Utväg's health")
    assert result.stdout.strip().endswith("4 check(s) failed.")
    output = result.stdout + result.stderr
    assert "hemligt" not in output.lower() and "f" * 32 not in output and wrong["UTVAG_SECRET_KEYS"] not in output
    assert "Traceback" not in output
    group = lines(unknown_group.stdout)["staff group"]
    assert group.startswith(f"FAIL  staff group: the bot cannot reach group {STAFF_GROUP} (BadRequest): add the bot to the staff group")
    assert lines(strangers.stdout)["keys"].startswith("FAIL  keys: UTVAG_PSEUDONYM_KEY is not the one this database was made with")


def test_in_webhook_mode_the_webhook_telegram_has_is_checked(tmp_path, keys):
    with FakeBotAPI() as api, FakeTwilioAPI() as sms:
        api.groups.add(STAFF_GROUP)
        env = settings(tmp_path, keys, api, sms, UTVAG_TELEGRAM_WEBHOOK_SECRET="s3cret-webhook")
        assert utvag("db", "upgrade", "--create", env=env, cwd=tmp_path).returncode == 0
        port = free_port()
        hook = f"http://127.0.0.1:{port}/telegram/webhook"
        env = {**env, "UTVAG_HTTP_PORT": str(port), "UTVAG_TELEGRAM_WEBHOOK_URL": hook}
        before = lines(utvag("check", env=env, cwd=tmp_path).stdout)["telegram webhook"]
        with UtvagProcess(tmp_path, env):
            running = utvag("check", env=env, cwd=tmp_path)
    assert before == f"FAIL  telegram webhook: Telegram has no webhook yet: start the service (`utvag run` sets it to {hook})."
    assert running.returncode == 0, running.stdout
    assert lines(running.stdout)["telegram webhook"] == f"ok    telegram webhook: Telegram delivers to {hook}"
    assert "s3cret-webhook" not in running.stdout


def test_a_database_behind_the_code_or_missing_is_named(tmp_path, keys):
    env = {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/old.db"}
    missing = utvag("check", env=env, cwd=tmp_path)
    assert missing.returncode == 1
    assert lines(missing.stdout)["database"].startswith(f"FAIL  database: there is no database at {tmp_path}/old.db")
    assert not (tmp_path / "old.db").exists()
    old = make_engine(env["UTVAG_DATABASE_URL"])
    upgrade(old, "0008")
    old.dispose()
    behind = utvag("check", env=env, cwd=tmp_path)
    found = lines(behind.stdout)
    assert behind.returncode == 1
    assert found["migrations"] == "FAIL  migrations: the database is at revision 0008, this version needs 0010: run `utvag db upgrade`."
    assert "keys" not in found and found["telegram"].startswith("skip") and found["twilio"].startswith("skip")


def test_a_malformed_setting_fails_the_first_line(tmp_path, keys):
    result = utvag("check", env={**keys.env(), "UTVAG_HTTP_PORT": "eighty"}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL  settings: UTVAG_HTTP_PORT is malformed")
