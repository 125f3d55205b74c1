"""Follow-up detection: which second questions point back to the previous turn, in every language."""

from __future__ import annotations

import pytest

from pipelines.followup import Turn, follow_up_context, follow_up_cue

# Questions that cannot be understood without the previous answer: a pronoun, a place adverb or "and …?".
POINTING_BACK = {
    "de": ["Und wann hat die offen?", "Was kostet das?", "Was muss ich dafür mitbringen?", "und in Lobeda?",
           "Wo ist das?"],
    "en": ["when is it open?", "what does it cost?", "and in Lobeda?", "where are they?", "how do I get there?"],
    "uk": ["А скільки це коштує?", "Коли вони працюють?", "а в Лобеді?", "Як туди дістатися?"],
    "ru": ["А когда она открыта?", "Сколько это стоит?", "а в Лобеде?", "Как туда добраться?"],
    "ar": ["كم تكلفة ذلك؟", "وماذا عن لوبيدا؟", "متى هي مفتوحة؟", "كيف أصل إلى هناك؟"],
    "fa": ["آدرس آنجا کجاست؟", "هزینه اش چقدر است؟ این رایگان است؟", "و در لوبدا؟"],
    "tr": ["Peki ücreti ne kadar?", "Orası ne zaman açık?", "ve Lobeda'da?", "Bunun için ne götürmem gerekiyor?"],
    "fr": ["Et c'est ouvert quand ?", "Ça coûte combien ?", "Et à Lobeda ?", "Comment y aller ?"],
}
# Detail-only questions without a pointer: maybe a follow-up, decided by how well they are answered alone.
DETAIL_ONLY = {
    "de": ["Wann ist geöffnet?", "Welche Unterlagen brauche ich?"],
    "en": ["what documents do I need?", "opening hours?"],
    "uk": ["Коли відчинено?", "Що потрібно принести?"],
    "ru": ["Какие часы работы?", "Какие документы нужны?"],
    "ar": ["متى يفتح؟", "ما هي الأوراق المطلوبة؟"],
    "fa": ["کی باز است؟", "چه مدارکی لازم است؟"],
    "tr": ["Çalışma saatleri nedir?", "Hangi belgeler gerekli?"],
    "fr": ["Quels documents dois-je apporter ?", "Quels sont les horaires ?"],
}
# Questions of their own: a new topic, also with words that look like pointers but are not ("gibt es",
# "is there", "est-ce que", articles).
OWN_TOPIC = {
    "de": ["Wo lerne ich Deutsch?", "Gibt es Deutschkurse für Frauen?", "Wo finde ich die VHS?",
           "Wie melde ich meine Wohnung an, wenn ich gerade aus der Ukraine gekommen bin und noch keinen "
           "Mietvertrag habe?"],
    "en": ["Where can I learn German?", "Is there a German course for women?", "Is it possible to get a Kita place?"],
    "uk": ["Де вивчити німецьку мову?", "Як знайти місце в дитячому садку?"],
    "ru": ["Где выучить немецкий?", "Как найти место в детском саду?"],
    "ar": ["أين أتعلم اللغة الألمانية؟", "أين أجد روضة لطفلي؟"],
    "fa": ["کجا می‌توانم آلمانی یاد بگیرم؟"],
    "tr": ["Almanca nerede öğrenebilirim?", "Çocuğum için kreş yeri nasıl bulurum?"],
    "fr": ["Où est-ce que je peux apprendre l'allemand ?", "Je cherche une place en crèche"],
}


def _cases(table: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(lang, q) for lang, questions in table.items() for q in questions]


@pytest.mark.parametrize(("lang", "question"), _cases(POINTING_BACK))
def test_a_question_that_points_back_is_a_strong_follow_up(lang: str, question: str) -> None:
    assert follow_up_cue(question) == "strong"


@pytest.mark.parametrize(("lang", "question"), _cases(DETAIL_ONLY))
def test_a_detail_only_question_is_a_possible_follow_up(lang: str, question: str) -> None:
    assert follow_up_cue(question) == "weak"


@pytest.mark.parametrize(("lang", "question"), _cases(OWN_TOPIC))
def test_a_question_of_its_own_starts_fresh(lang: str, question: str) -> None:
    assert follow_up_cue(question) is None


def test_a_long_question_carries_its_own_topic_even_with_a_pronoun() -> None:
    assert follow_up_cue("Mein Sohn ist drei und wir sind neu in Jena, wo kann er in den Kindergarten gehen "
                         "und was kostet das?") is None


def test_empty_and_punctuation_only_questions_are_no_follow_ups() -> None:
    assert follow_up_cue("") is None
    assert follow_up_cue("?!") is None


def test_context_retrieves_with_the_new_question_first_and_prefers_the_latest_answer() -> None:
    previous = [Turn("Wo finde ich einen Kitaplatz?", ("svc/jugendamt",)),
                Turn("Wo kann ich an der VHS Deutsch lernen?", ("svc/vhs", "svc/sprachcafes", "svc/vhs"))]
    context = follow_up_context("Was kostet das?", previous)
    assert context.search_text == "Was kostet das? Wo kann ich an der VHS Deutsch lernen?"
    assert context.previous_ids == ("svc/vhs", "svc/sprachcafes")


def test_context_keeps_the_topic_of_a_turn_that_was_itself_a_follow_up() -> None:
    previous = [Turn("Wo kann ich an der VHS Deutsch lernen?", ("svc/vhs",)),
                Turn("Und wann hat die offen?", ())]
    context = follow_up_context("Was kostet das?", previous)
    assert "VHS" in context.search_text
    assert context.previous_ids == ("svc/vhs",)  # the latest turn sent no ids: the earlier answer's
