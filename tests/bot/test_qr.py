"""QR codes for posters: what each code says, and the files `utvag qr` writes."""

import io
import xml.etree.ElementTree as ET

import pytest
import segno

from bot.qr import ERROR_LEVEL, QRError, plan, write
from tests.runner import utvag

pytestmark = pytest.mark.e2e  # starts the Runtime or `utvag`: CI runs it again under shifted clocks

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def same_code(qr: segno.QRCode, payload: str) -> bool:
    """segno does not keep the payload; the same payload at the same settings gives the same matrix."""
    return qr.matrix == segno.make(payload, error=ERROR_LEVEL, micro=False, boost_error=False).matrix


def test_each_channel_gets_a_code_that_carries_the_source():
    codes = plan("fritidsgarden", telegram_username="@utvag_sig_bot", sms_number="+46701234567", chat_base="https://chat.example.se/")
    payloads = {code.name: code.payload for code in codes.codes}
    assert payloads == {
        "telegram": "https://t.me/utvag_sig_bot?start=fritidsgarden",
        "sms": "SMSTO:+46701234567:HEJ",
        "webchat": "https://chat.example.se/chat?k=fritidsgarden",
    }
    assert all(same_code(code.qr, code.payload) for code in codes.codes)
    assert codes.skipped == []


def test_codes_without_what_they_need_are_skipped_and_the_web_chat_defaults_to_localhost():
    codes = plan("affisch-1", telegram_username=None, sms_number=None, chat_base=None)
    assert [(code.name, code.payload) for code in codes.codes] == [("webchat", "http://127.0.0.1:8080/chat?k=affisch-1")]
    assert any(reason.startswith("Telegram") for reason in codes.skipped) and any(reason.startswith("SMS") for reason in codes.skipped)


@pytest.mark.parametrize("source", ["", "a" * 41, "med mellanslag", "å", "x/../y", "k=1&x=2", "trailing\n"])
def test_a_source_outside_the_allowed_characters_is_refused(source):
    with pytest.raises(QRError, match="1-40 characters"):
        plan(source, telegram_username=None, sms_number=None, chat_base=None)


def test_png_and_svg_files_are_valid(tmp_path):
    codes = plan("skolan", telegram_username="utvag_bot", sms_number="+46701234567", chat_base=None)
    written = write("skolan", codes.codes, tmp_path / "qr")
    assert sorted(path.name for path in written) == sorted(f"skolan-{name}.{suffix}" for name in ("telegram", "sms", "webchat")
                                                           for suffix in ("png", "svg"))  # fmt: skip
    for code in codes.codes:
        png = (tmp_path / "qr" / f"skolan-{code.name}.png").read_bytes()
        assert png.startswith(PNG_SIGNATURE) and b"IEND" in png[-12:]
        svg = ET.parse(tmp_path / "qr" / f"skolan-{code.name}.svg").getroot()
        assert svg.tag.endswith("svg")
        expected = io.BytesIO()
        segno.make(code.payload, error=ERROR_LEVEL, micro=False, boost_error=False).save(expected, kind="svg", scale=10, border=4,
                                                                                        dark="#000", light="#fff")  # fmt: skip
        assert (tmp_path / "qr" / f"skolan-{code.name}.svg").read_bytes() == expected.getvalue()


def test_the_command_writes_the_codes_it_can_and_says_what_it_skipped(tmp_path):
    env = {"UTVAG_PUBLIC_URL": "https://chat.example.se", "UTVAG_TWILIO_FROM": "+46700000000"}
    result = utvag("qr", "--source", "biblioteket", "--out", str(tmp_path / "ut"), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "ut").iterdir()) == [
        "biblioteket-sms.png", "biblioteket-sms.svg", "biblioteket-webchat.png", "biblioteket-webchat.svg"]  # fmt: skip
    assert "skipped Telegram" in result.stdout
    default = utvag("qr", "--source", "torget", "--telegram-username", "utvag_bot", env={}, cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert (tmp_path / "qr" / "torget-telegram.png").exists() and (tmp_path / "qr" / "torget-webchat.svg").exists()
    refused = utvag("qr", "--source", "inte okej", env={}, cwd=tmp_path)
    assert refused.returncode == 2 and "1-40 characters" in refused.stderr and "Traceback" not in refused.stderr
