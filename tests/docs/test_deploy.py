"""The operator guide's own files, used as an operator would: the settings file as systemd parses it, the unit, and the
proxy blocks' header rules in front of a running `utvag run`. The guide quotes these files whole, so it cannot drift."""

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot import envfile
from bot.settings import SettingsError, load_settings
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.runner import UtvagProcess

DOCS = Path(__file__).parents[2] / "docs"
DEPLOY = DOCS / "deploy"
FILES = ("utvag.env.example", "utvag.service", "nginx.conf", "Caddyfile")
VISITOR = "203.0.113.7"  # the browser's address as the proxy sees it


def example() -> dict[str, str]:
    return envfile.parse((DEPLOY / "utvag.env.example").read_text())


def unit() -> dict[str, list[str]]:
    """The [Service] section as systemd reads it: a key may be given more than once."""
    service: dict[str, list[str]] = {}
    section = ""
    for line in (DEPLOY / "utvag.service").read_text().splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif line and not line.startswith(("#", ";")) and section == "Service":
            key, value = line.split("=", 1)
            service.setdefault(key.strip(), []).append(value.strip())
    return service


def test_the_guide_quotes_each_deployment_file_whole():
    guide = (DOCS / "operator.md").read_text()
    for name in FILES:
        assert (DEPLOY / name).read_text() in guide, f"docs/operator.md no longer quotes docs/deploy/{name} as it is"


def test_the_example_settings_file_loads_as_systemd_parses_it(tmp_path, keys, monkeypatch):
    text = (DEPLOY / "utvag.env.example").read_text()
    values = example()
    assignments = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", ";"))]
    assert len(assignments) == len(values)  # no line systemd would drop or merge
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in {**values, **keys.env()}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    settings.check_for_run()
    assert settings.public_url == "https://chat.example.se" and settings.staff_chat_id == -1001234567890
    assert settings.database_url.startswith("postgresql://utvag@/utvag")
    # The old guide's way, a comment after the value, as systemd hands it over: refused with the setting named.
    commented = envfile.parse(text.replace("UTVAG_STAFF_CHAT_ID=-1001234567890", "UTVAG_STAFF_CHAT_ID=-1001234567890   # the staff group"))
    monkeypatch.setenv("UTVAG_STAFF_CHAT_ID", commented["UTVAG_STAFF_CHAT_ID"])
    with pytest.raises(SettingsError, match=r"^UTVAG_STAFF_CHAT_ID is malformed \(it ends in a comment, '# the staff group'"):
        load_settings()


def test_the_unit_and_every_command_read_the_same_settings_file():
    service = unit()
    (settings_file,) = service["EnvironmentFile"]
    assert service["Environment"] == [f"UTVAG_ENV_FILE={settings_file}"]
    assert service["ExecStart"] == ["/opt/utvag/.venv/bin/utvag run"]
    assert service["User"] == ["utvag"] and service["WorkingDirectory"][0] in service["ReadWritePaths"][0].split()
    assert service["RestartPreventExitStatus"] == ["2"]  # `utvag run`'s exit code for a setting to fix
    guide = (DOCS / "operator.md").read_text()
    assert f"--env-file {settings_file}" in guide and f"keys new --out {settings_file}" in guide
    upstream = urlsplit(nginx_rules()[0])
    assert (upstream.hostname, upstream.port) == (example()["UTVAG_HTTP_HOST"], int(example()["UTVAG_HTTP_PORT"]))
    assert caddy_rules()[0] == f"http://{example()['UTVAG_HTTP_HOST']}:{example()['UTVAG_HTTP_PORT']}"


# --- the proxies ---------------------------------------------------------------------------------------------------


def nginx_rules() -> tuple[str, dict[str, str]]:
    """The TLS server's `location /`: where it forwards, and its proxy_set_header rules."""
    text = (DEPLOY / "nginx.conf").read_text()
    tls = text[text.index("listen 443") :]
    location = tls[tls.index("location / {") :]
    location = location[: location.index("}")]
    upstream = re.search(r"^\s*proxy_pass (\S+);", location, re.M)
    assert upstream is not None
    rules = {match[1]: match[2].strip('"') for match in re.finditer(r'^\s*proxy_set_header (\S+) ("[^"]*"|\S+);', location, re.M)}
    assert re.search(r'add_header Strict-Transport-Security "max-age=(\d+)[^"]*" always;', tls)
    assert re.search(r"^\s*proxy_buffering off;", location, re.M) and re.search(r"^\s*proxy_read_timeout \d+h;", location, re.M)
    return upstream[1], rules


def caddy_rules() -> tuple[str, dict[str, str]]:
    """Caddy's reverse_proxy passes Host on and sets the X-Forwarded headers itself (its documented defaults)."""
    text = (DEPLOY / "Caddyfile").read_text()
    upstream = re.search(r"^\s*reverse_proxy (\S+) \{", text, re.M)
    assert upstream is not None
    assert re.search(r'header Strict-Transport-Security "max-age=\d+', text) and re.search(r"flush_interval -1", text)
    rules = {"Host": "$host", "X-Forwarded-For": "$remote_addr", "X-Forwarded-Proto": "$scheme", "X-Forwarded-Host": "$host"}
    return f"http://{upstream[1]}", rules


class Proxy:
    """What a proxy block does to a browser's request: its header rules applied, then sent to its upstream (the guide's
    127.0.0.1:8080 is this test's `utvag run`)."""

    def __init__(self, upstream: str, rules: dict[str, str], port: int) -> None:
        self.upstream, self.rules, self.port = urlsplit(upstream), rules, port
        self.public = urlsplit(example()["UTVAG_PUBLIC_URL"])

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs) -> httpx.Response:
        browser = {"Host": self.public.netloc, **(headers or {})}
        variables = {"$host": self.public.hostname, "$scheme": self.public.scheme, "$remote_addr": VISITOR,
                     "$proxy_add_x_forwarded_for": VISITOR}  # fmt: skip
        # nginx's own defaults: Host becomes the upstream's ($proxy_host), Connection is dropped; other headers pass.
        sent = {name: value for name, value in browser.items() if name.lower() not in ("host", "connection")}
        sent["Host"] = self.upstream.netloc
        for name, value in self.rules.items():
            for variable, replacement in variables.items():
                value = value.replace(variable, replacement or "")
            sent = {key: val for key, val in sent.items() if key.lower() != name.lower()}
            if value:  # an empty value removes the header
                sent[name] = value
        return httpx.request(method, f"http://{self.upstream.hostname}:{self.port}{path}", headers=sent, timeout=10, **kwargs)


def without_host(rules: tuple[str, dict[str, str]]) -> tuple[str, dict[str, str]]:
    upstream, headers = rules
    return upstream, {name: value for name, value in headers.items() if name != "Host"}


@pytest.mark.parametrize("proxy_rules", [nginx_rules, caddy_rules, lambda: without_host(nginx_rules())],
                         ids=["nginx", "caddy", "nginx-without-its-host-line"])  # fmt: skip
@pytest.mark.e2e
def test_utvag_run_from_the_guides_files_serves_people_through_the_proxy(tmp_path, keys, proxy_rules):
    public = example()["UTVAG_PUBLIC_URL"]
    with FakeBotAPI() as telegram, FakeTwilioAPI() as twilio:
        # The operator's file: the keys `keys new --out` writes, the example as it is, then (as this test's stand-ins
        # for the real services) the database and the providers' addresses and credentials.
        settings_file = tmp_path / "utvag.env"
        settings_file.write_text(
            f"UTVAG_SECRET_KEYS={keys.secret}\nUTVAG_PSEUDONYM_KEY={keys.pseudonym}\n" + (DEPLOY / "utvag.env.example").read_text()
            + f"UTVAG_DATABASE_URL=sqlite:///{tmp_path}/utvag.db\nUTVAG_TELEGRAM_TOKEN={telegram.token}\n"
            f"UTVAG_TELEGRAM_API_URL={telegram.base_url}\nUTVAG_TWILIO_API_URL={twilio.url}\n"
            f"UTVAG_TWILIO_ACCOUNT_SID={twilio.account_sid}\nUTVAG_TWILIO_AUTH_TOKEN={twilio.auth_token}\n"
        )  # fmt: skip
        with UtvagProcess(tmp_path, {"UTVAG_ENV_FILE": str(settings_file)}) as process:
            proxy = Proxy(*proxy_rules(), port=process.port)
            health = proxy.request("GET", "/healthz")
            assert health.status_code == 200 and health.json()["channels"] == {"sms": "ok", "telegram": "ok", "webchat": "ok"}
            assert proxy.request("GET", "/chat").status_code == 200
            first = proxy.request("GET", "/chat/api/messages")  # the page's first request is issued the signed id
            cookie = first.headers["set-cookie"].split(";")[0]
            assert cookie.startswith("__Host-utvag_chat=") and "Secure" in first.headers["set-cookie"]  # https public URL
            browser = {"Cookie": cookie, "Origin": public, "Content-Type": "application/json"}
            assert proxy.request("GET", "/chat/api/messages", {"Cookie": cookie}).json()["messages"]
            sent = proxy.request("POST", "/chat/api/send", browser, content='{"text": "hej från webben"}')
            assert sent.status_code == 202, sent.text
            refused = proxy.request("POST", "/chat/api/send", {**browser, "Origin": "https://evil.example"}, content='{"text": "hemligt"}')
            assert refused.status_code == 400
            # The dashboard's posts: an older browser sends no Sec-Fetch-Site, only the Origin.
            form = {"Origin": public, "Content-Type": "application/x-www-form-urlencoded"}
            login = proxy.request("POST", "/staff/login", form, content="name=x&password=y")
            assert "Formuläret kom från en annan sida" not in login.text  # (it lacks its form token: refused for that)
            foreign = proxy.request("POST", "/staff/login", {**form, "Origin": "https://evil.example"}, content="name=x&password=y")
            assert foreign.status_code == 403 and "Formuläret kom från en annan sida" in foreign.text
            # Twilio signs for the public URL; the proxy hands it over on its own address.
            params = {"MessageSid": "SM" + "1" * 32, "AccountSid": twilio.account_sid, "From": "+46701112233",
                      "To": example()["UTVAG_TWILIO_FROM"], "Body": "hej"}  # fmt: skip
            signature = twilio.sign(public + "/twilio/sms", params)
            inbound = proxy.request("POST", "/twilio/sms", {"X-Twilio-Signature": signature}, data=params)
            assert inbound.status_code == 200, inbound.text
        logs = process.logs()
    assert "webchat: refused a request from origin https://evil.example (expected https://chat.example.se)" in logs
    assert "hemligt" not in logs and "hej från webben" not in logs


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(tmp_path):
    """systemd's own check of the unit (unknown keys, bad values); ExecStart points at this checkout's `utvag`."""
    from tests.runner import UTVAG

    unit_file = tmp_path / "utvag.service"
    unit_file.write_text((DEPLOY / "utvag.service").read_text().replace("/opt/utvag/.venv/bin/utvag", UTVAG))
    checked = subprocess.run(["systemd-analyze", "verify", str(unit_file)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr
