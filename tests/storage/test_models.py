"""The closed sets beside the models: stored as the same strings as before, and each one has its words for staff."""

import json

from handlers.catalogue import Catalogue
from storage.models import AuditAction, CaseKind, CaseState, ConversationState, Outcome


def test_the_stored_values_are_the_strings_the_database_already_holds():
    assert [kind.value for kind in CaseKind] == ["question", "application", "call", "danger", "checkin"]
    assert [state.value for state in CaseState] == ["open", "claimed", "closed"]
    assert CaseState.CLOSED == "closed" and f"{CaseKind.CALL}" == "call" and "+".join([Outcome.HOUSING, Outcome.INCOME]) == "housing+income"
    assert ConversationState.APPLY_WHO == "apply.who" and AuditAction.AREA_SET == "area_set"


def test_every_kind_state_and_stored_outcome_has_words_for_staff_in_both_languages():
    catalogue = Catalogue.load()
    for language in ("sv", "en"):
        keys = catalogue.keys(language)
        assert {f"staff.kind.{kind}" for kind in CaseKind} <= keys
        assert {f"staff.state.{state}" for state in CaseState} <= keys
        stored = set(Outcome) - {Outcome.NEW_TIME}  # a call's new time opens the case again; it is never stored
        assert {f"staff.outcome.{outcome}" for outcome in stored} <= keys


def test_an_audit_action_fits_its_column():
    assert max(len(action) for action in AuditAction) <= 40


def test_case_details_read_what_the_flows_wrote_and_keep_it_when_staff_add_the_area():
    from dataclasses import replace

    from storage.models import CaseDetails

    written = json.dumps({"needs": ["debts"], "contact_way": "phone", "times": None, "phone": "+46701234567", "later": 1})
    details = CaseDetails.of(written)
    assert (details.needs, details.contact_way, details.times, details.phone, details.area) == (("debts",), "phone", None,
                                                                                                "+46701234567", None)  # fmt: skip
    stored = replace(details, area="Vällingby").dumps()
    assert json.loads(stored) == {"needs": ["debts"], "contact_way": "phone", "phone": "+46701234567", "area": "Vällingby"}
    assert CaseDetails.of(stored).area == "Vällingby" and CaseDetails.of(None) == CaseDetails()
