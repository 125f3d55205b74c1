"""The follow-up conversations (``eval/questions/followups.yaml``) on the real index: accuracy and its shape."""

from __future__ import annotations

import pytest

from eval.followups import follow_up_report, load_conversations, run_conversation
from eval.questions import load_questions

#: Development split, on which NEW_TOPIC_CONFIDENCE was chosen: 24/24 when it was added.
MIN_ACCURACY = 0.9


def test_the_conversation_set_meets_its_specification() -> None:
    conversations = load_conversations()
    assert 16 <= len(conversations) <= 24
    assert {c.split for c in conversations} == {"dev"}
    assert {"de", "en", "uk", "ru", "ar", "fa", "tr", "fr"} <= {c.lang for c in conversations}
    assert sum(not c.follow_up for c in conversations) >= 4  # new topics too
    # Conversations are not single questions: the main question set does not load them.
    assert not any(q.id.startswith("followup-") for q in load_questions())


@pytest.mark.integration
def test_follow_ups_are_answered_about_the_previous_service_and_new_topics_start_fresh(served) -> None:  # type: ignore[no-untyped-def]
    report = follow_up_report([run_conversation(served.ask, c) for c in load_conversations()])
    print(f"follow-ups: accuracy {report['accuracy']:.3f} over {report['conversations']} conversations, "
          f"failures {report['failures']}")
    assert report["accuracy"] >= MIN_ACCURACY, report["failures"]
    assert report["new_topic_accuracy"] >= MIN_ACCURACY, report["failures"]
