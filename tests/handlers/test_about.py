from tests.handlers.test_ask import started


def test_at_least_eight_answers_each_reachable(engine):
    chat = started(engine, title="Om SIG")
    chat.press("Om SIG, vanliga frågor")
    questions = [label for label in chat.labels if label != "Till menyn"]
    assert len(questions) >= 8
    for question in questions:
        answer, more = chat.press(question)
        assert len(answer) > 20 and "{" not in answer
        assert more.startswith("Välj en annan fråga")


def test_the_wait_is_computed_not_written_in(engine):
    chat = started(engine)
    chat.press("Om SIG, vanliga frågor")
    wait_question = next(label for label in chat.labels if "vänt" in label.lower())
    answer, _ = chat.press(wait_question)
    assert "14" in answer


def test_the_answers_exist_in_english(engine):
    chat = started(engine, "English")
    chat.press("About SIG, common questions")
    police = next(label for label in chat.labels if "police" in label.lower())
    answer, _ = chat.press(police)
    assert "not the police" in answer.lower() or "no" in answer.lower()
