"""Generated dashboard forms from a signed-in lead: every one answered with a page or a refusal, never a 500."""

from urllib.parse import quote_from_bytes, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.bot.test_dashboard import SARA_PASSWORD, ask, browser, log_in, runtime, token  # noqa: F401 (runtime is a fixture)
from tests.properties import PROPERTIES, READABLE

pytestmark = pytest.mark.slow

TEXT = st.one_of(st.text(READABLE, max_size=30), st.integers(min_value=-(2**80), max_value=2**80).map(str),
                 st.sampled_from(["", "yes", "housing", "reached", "varje måndag 10:00", "070-123 45 67", "lead", "K-0000"]))  # fmt: skip
FIELDS = ["text", "outcome", "to", "rule", "number", "consent", "confirm", "area", "name", "role", "signoff", "x"]
ACTIONS = ["claim", "release", "reply", "note", "enrol", "close", "number", "handover", "call", "checkin", "nope", ""]


def test_generated_forms_never_give_a_server_error(runtime):  # noqa: F811
    case = ask(runtime)
    client = browser(runtime)
    assert log_in(client, "Sara", SARA_PASSWORD).status_code == 303
    csrf = token(client.get("/staff").text)
    codes = st.sampled_from([case.code, "K-0000", "x"])
    others = ["/staff/do/contact", "/staff/do/incident", "/staff/do/x", "/staff/team/1/remove", "/staff/team/99999999999999999999/remove"]
    case_paths = st.builds(lambda code, action: f"/staff/case/{code}/{action}", codes, st.sampled_from(ACTIONS))
    paths = st.one_of(case_paths, st.sampled_from(others))
    forms = st.lists(st.tuples(st.sampled_from(FIELDS), TEXT), max_size=5)

    @PROPERTIES
    @given(path=paths, form=forms, raw=st.none() | st.binary(max_size=40), with_token=st.booleans())
    def post(path: str, form: list[tuple[str, str]], raw: bytes | None, with_token: bool) -> None:
        fields = ([("csrf", csrf)] if with_token else []) + form
        body = urlencode(fields) + ("&" + quote_from_bytes(raw) if raw else "")
        answer = client.post(path, content=body.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status_code < 500, (path, fields, raw)

    post()
