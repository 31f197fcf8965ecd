"""Every conversation state has a flow that reads the next message, and the code can put a person into every state."""

import ast
from pathlib import Path

from handlers import router
from storage.models import Conversation, ConversationState

HANDLERS = Path(router.__file__).parent


def states_entered() -> set[str]:
    """The states some code in handlers/ moves a conversation to: `turn.goto(ConversationState.X)` or
    `conversation.state = ConversationState.X` (also inside a tuple assignment)."""
    found: set[str] = set()

    def named(node: ast.AST) -> str | None:
        is_state = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ConversationState"
        return ConversationState[node.attr].value if is_state else None

    for path in HANDLERS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "goto" and node.args:
                found.add(named(node.args[0]))
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    both = isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                    pairs = zip(target.elts, node.value.elts, strict=True) if both else [(target, node.value)]
                    found |= {named(value) for place, value in pairs if isinstance(place, ast.Attribute) and place.attr == "state"}
    return found - {None}


def test_every_state_has_a_flow_and_every_flow_a_state():
    assert set(router.FLOWS) == set(ConversationState)


def test_every_state_can_be_reached():
    starts = {Conversation.__table__.c.state.default.arg}  # a new conversation's state
    assert starts == {ConversationState.NEW}
    assert starts | states_entered() == set(ConversationState)

