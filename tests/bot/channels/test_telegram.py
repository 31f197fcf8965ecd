"""Telegram end to end: the real `utvag run` against the stand-in Bot API, polling and webhook."""

import httpx
import pytest

from bot.channels.telegram import parse_update
from tests.fakes.telegram_api import FakeBotAPI
from tests.runner import UtvagProcess, free_port

pytestmark = pytest.mark.e2e  # starts the Runtime or `utvag`: CI runs it again under shifted clocks

CHAT = 7001


@pytest.fixture
def api():
    with FakeBotAPI() as fake:
        yield fake


def env_for(api, keys, tmp_path, **extra) -> dict[str, str]:
    return {**keys.env(), "UTVAG_DATABASE_URL": f"sqlite:///{tmp_path}/utvag.db", "UTVAG_TELEGRAM_TOKEN": api.token,
            "UTVAG_TELEGRAM_API_URL": api.base_url, "UTVAG_TELEGRAM_POLL_TIMEOUT": "1", **extra}  # fmt: skip


def test_a_conversation_in_polling_mode(api, keys, tmp_path):
    with UtvagProcess(tmp_path, env_for(api, keys, tmp_path)):
        api.inject_message(CHAT, "/start")
        (greeting,) = api.wait_for_sent(CHAT, 1)
        assert greeting["text"].startswith("Hej! Det här är Utväg")
        buttons = greeting["reply_markup"]["inline_keyboard"]
        assert [row[0]["text"] for row in buttons] == ["Svenska", "English"]
        api.inject_callback(CHAT, buttons[1][0]["callback_data"], message_id=greeting["message_id"])
        sent = api.wait_for_sent(CHAT, 3)
        assert sent[1]["text"].startswith("We help you")
        api.wait_for(lambda fake: len(fake.calls("answerCallbackQuery")) == 1)
        api.wait_for(lambda fake: fake.pending_updates == 0)


def test_an_update_is_confirmed_only_after_it_is_stored(api, keys, tmp_path):
    api.hang("sendMessage", record=True)
    with UtvagProcess(tmp_path, env_for(api, keys, tmp_path)) as process:
        update_id = api.inject_message(CHAT, "/start")
        api.wait_for(lambda fake: fake.confirmed_update_id >= update_id)
        process.kill()
    api.unhang()
    with UtvagProcess(tmp_path, env_for(api, keys, tmp_path)):
        api.inject_message(CHAT + 1, "/start")
        api.wait_for_sent(CHAT + 1, 1)
    assert len(api.sent(CHAT)) == 1  # the hung send is never repeated


def test_stickers_photos_and_voice_are_stored_as_media(api):
    from telegram import Bot, Update

    for kind, extra in [("sticker", {"sticker": {"file_id": "s", "file_unique_id": "u", "type": "regular", "width": 1,
                                                  "height": 1, "is_animated": False, "is_video": False}}),
                        ("voice", {"voice": {"file_id": "v", "file_unique_id": "u", "duration": 2}})]:  # fmt: skip
        update_id = api.inject_message(CHAT, None, extra=extra)
        inbound = parse_update(Update.de_json(api.update(update_id), Bot(api.token)))
        assert inbound.content.kind == "media" and inbound.content.media == kind


def test_group_messages_are_not_taken_for_a_client(api):
    from telegram import Bot, Update

    update_id = api.inject_group_message(-100123, 5, "hej")
    assert parse_update(Update.de_json(api.update(update_id), Bot(api.token))) is None


def test_webhook_mode_checks_the_secret(api, keys, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    env = env_for(api, keys, tmp_path, UTVAG_HTTP_PORT=str(port), UTVAG_TELEGRAM_WEBHOOK_URL=url,
                  UTVAG_TELEGRAM_WEBHOOK_SECRET="s3cret-Token_1")  # fmt: skip
    with UtvagProcess(tmp_path, env):
        api.wait_for(lambda fake: fake.webhook is not None)
        assert api.webhook["url"] == url and api.webhook["secret_token"] == "s3cret-Token_1"
        update_id = api.inject_message(CHAT, "/start")
        assert api.deliver_webhook(update_id, secret="wrong") == 403
        assert api.deliver_webhook(update_id, secret=None) == 403
        assert api.sent(CHAT) == []
        assert api.deliver_webhook(update_id) == 200
        assert api.deliver_webhook(update_id) == 200  # Telegram repeating itself changes nothing
        api.wait_for_sent(CHAT, 1)
        assert httpx.post(url, content=b"not json", headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}).status_code == 400
    assert len(api.sent(CHAT)) == 1


def test_a_blocked_person_is_not_retried(api, keys, tmp_path):
    api.block_chat(CHAT)
    with UtvagProcess(tmp_path, env_for(api, keys, tmp_path)):
        api.inject_message(CHAT, "/start")
        api.inject_message(CHAT + 2, "/start")
        api.wait_for_sent(CHAT + 2, 1)
    # Counted after the stop, which delivers everything due first: the two replies go out side by side, in either order.
    attempts = [call for call in api.calls("sendMessage") if call["params"]["chat_id"] == str(CHAT)]
    assert len(attempts) == 1


def test_a_429_is_waited_out_and_then_sent_once(api, keys, tmp_path):
    api.fail_next("sendMessage", status=429, retry_after=1, times=2)
    with UtvagProcess(tmp_path, env_for(api, keys, tmp_path)):
        api.inject_message(CHAT, "/start")
        api.wait_for_sent(CHAT, 1, timeout=20)
    assert len(api.sent(CHAT)) == 1


def test_a_chosen_need_is_marked_on_the_pressed_message_and_taken_back_there(api, keys, tmp_path):
    def press(label: str) -> list[dict]:
        last = api.sent(CHAT)[-1]
        (key,) = [row[0]["callback_data"] for row in last["reply_markup"]["inline_keyboard"] if row[0]["text"] == label]
        before = len(api.sent(CHAT))
        api.inject_callback(CHAT, key, message_id=last["message_id"])
        return api.wait_for_sent(CHAT, before + 1)[before:]

    with UtvagProcess(tmp_path, env_for(api, keys, tmp_path)):
        api.inject_message(CHAT, "/start")
        api.wait_for_sent(CHAT, 1)
        press("Svenska")
        api.wait_for(lambda fake: fake.sent(CHAT)[-1]["text"].startswith("Vad vill du göra?"))
        for label in ("Ansök om stöd", "Mig själv", "Ja"):
            press(label)
        needs = api.sent(CHAT)[-1]
        assert needs["text"].startswith("Vad vill du ha hjälp med?")
        (edited,) = press("Boende")
        assert edited["method"] == "editMessageText" and edited["message_id"] == needs["message_id"]
        labels = [row[0]["text"] for row in edited["reply_markup"]["inline_keyboard"]]
        assert labels[0] == "✓ Boende" and labels[1] == "Inkomst eller jobb"
        (removed,) = press("✓ Boende")
        assert removed["method"] == "editMessageText" and removed["text"].startswith("Du tog bort boende.")
        assert [row[0]["text"] for row in removed["reply_markup"]["inline_keyboard"]][0] == "Boende"
