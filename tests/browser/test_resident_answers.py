"""What a resident sees: the right contact first, contacts in simple mode, honest partial answers,
numbers that keep their order in right-to-left text, and no unrelated interface language."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

QUESTIONS = {
    "discrimination": {"de": "Ich wurde diskriminiert. Wer hilft mir?", "uk": "Мене дискримінували. Хто мені допоможе?",
                       "ar": "تعرضت للتمييز. من يساعدني؟", "fa": "به من تبعیض شد. چه کسی به من کمک می‌کند؟"},
    "german": {"de": "Wo kann ich Deutsch lernen?", "uk": "Де можна вивчати німецьку мову?",
               "ar": "أين يمكنني تعلم اللغة الألمانية؟", "fa": "کجا می‌توانم آلمانی یاد بگیرم؟"},
    "interpreter": {"de": "Wo bekomme ich eine Dolmetscherin für den Arztbesuch?",
                    "uk": "Де знайти перекладача для походу до лікаря?",
                    "ar": "أحتاج مترجم عند زيارة الطبيب، أين أجده؟",
                    "fa": "برای رفتن به داکتر مترجم لازم دارم، از کجا؟"},
    "fee": {"de": "Was kostet die Verlängerung des Aufenthaltstitels?",
            "uk": "Скільки коштує продовження посвідки на проживання?",
            "ar": "كم تكلفة تمديد الإقامة؟", "fa": "هزینهٔ تمدید اقامت چقدر است؟"},
}

# Reads the on-screen order of the first phone number inside a right-to-left answer: the x position of each of
# its digit groups, left to right as drawn. Written as "03641 49-2637" (or "0361-213 47 394" for a contact outside
# Jena), the groups must be drawn in that order.
VISUAL_ORDER = """(root) => {
  const text = root.querySelector('[part~=answer]:last-of-type .answer-text');
  const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
  const phone = /(?:\\+49 )?0\\d{2,5}[ \\/-]\\d[\\d -]*\\d/;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const match = node.data.match(phone);
    if (!match) continue;
    const groups = [];
    const re = /\\d+/g;
    let g;
    while ((g = re.exec(match[0]))) {
      const range = document.createRange();
      range.setStart(node, match.index + g.index);
      range.setEnd(node, match.index + g.index + g[0].length);
      groups.push({ digits: g[0], x: range.getBoundingClientRect().left });
    }
    return { phone: match[0], groups };
  }
  return null;
}"""


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_phone_numbers_keep_their_order_in_right_to_left_answers(chat, lang):
    chat.open()
    chat.choose_language(lang)
    answer = chat.ask(QUESTIONS["discrimination"][lang])
    expect(answer).to_have_attribute("dir", "rtl")
    found = chat.shadow_eval(VISUAL_ORDER)
    assert found, "the answer names no phone number"
    xs = [g["x"] for g in found["groups"]]
    assert len(xs) >= 2 and xs == sorted(xs), f"{found['phone']!r} is drawn out of order: {found['groups']}"


def test_the_antidiscrimination_office_is_the_first_card(chat):
    chat.open()
    answer = chat.ask(QUESTIONS["discrimination"]["de"])
    first = answer.locator("[part~=contacts] [part~=office-card]").first
    expect(first).to_contain_text("Antidiskriminierungsstelle")
    expect(first.locator("a[href^='tel:']").first).to_be_visible()


def test_simple_mode_keeps_the_contact_cards(chat):
    chat.open()
    chat.simple.click()
    answer = chat.ask(QUESTIONS["discrimination"]["de"])
    expect(answer.locator("[part~=office-card]").first).to_be_visible()


def test_a_fee_question_is_marked_as_partly_answered(chat, catalogs):
    chat.open()
    answer = chat.ask(QUESTIONS["fee"]["de"])
    expect(answer.locator(".badge.partial")).to_have_text(catalogs("de")["ui.coverage_partial"])
    expect(answer.locator(".answer-text")).to_contain_text("Nur teilweise beantwortet")
    expect(answer.locator("[part~=office-card]").first).to_contain_text("Ausländerbehörde")


def test_a_language_outside_the_eight_keeps_the_interface_and_gets_english_and_german(chat, catalogs):
    chat.open()
    answer = chat.ask("Gdzie mogę zameldować mieszkanie w Jenie?")
    expect(answer).to_have_attribute("lang", "en")
    expect(answer.locator(".notice")).to_contain_text("Wegweiser cannot answer in this language yet")
    expect(chat.send).to_have_text(catalogs("de")["ui.send"])  # the interface stays German, never Turkish
    expect(answer.locator("button[data-action=toggle-german]")).to_be_visible()


@pytest.mark.parametrize("mode", ["de", "uk", "ar", "fa", "simple"])
def test_screenshots_of_resident_answers(chat, artifacts, mode):
    chat.open()
    lang = "de" if mode == "simple" else mode
    if lang != "de":
        chat.choose_language(lang)
    if mode == "simple":
        chat.simple.click()
    for key, asked in QUESTIONS.items():
        answer = chat.ask(asked[lang])
        expect(answer.locator(".answer-text")).not_to_be_empty()
        if key != "german" or mode != "simple":
            expect(answer.locator("[part~=office-card]").first).to_be_visible()
        path = artifacts / f"resident-{key}-{mode}.png"
        answer.screenshot(path=str(path))
        assert path.stat().st_size > 5_000
        if mode in ("ar", "fa") and re.search(r"\d{4,}", answer.locator(".answer-text").inner_text()):
            expect(answer).to_have_attribute("dir", "rtl")
