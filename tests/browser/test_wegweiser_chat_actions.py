"""Issue 13 in the <wegweiser-chat> widget, against the real server and index: reliable input, answers that fit a
phone and a screen reader, acting on an answer (copy, share, print, the counter card), a person to talk to, read
aloud, feedback and follow-up context."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from playwright.sync_api import Route, expect

pytestmark = pytest.mark.browser

WIDGET_MESSAGES = Path(__file__).resolve().parents[2] / "widget" / "messages"
LANGUAGES = ["de", "en", "uk", "ru", "ar", "fa", "tr", "fr"]
UKRAINIAN_QUESTION = "Де знайти перекладача до лікаря?"
GERMAN_QUESTION = "Wo kann ich Deutsch lernen?"
FEE_QUESTION = "Was kostet die Verlängerung des Aufenthaltstitels?"
PERSON_QUESTIONS = {
    "de": "Ich wurde diskriminiert. Ich möchte mit einem Menschen sprechen.",
    "uk": "Мене дискримінували. Я хочу поговорити з людиною.",
    "ar": "تعرضت للتمييز. أريد التحدث مع شخص.",
}
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}


def is_ask(request) -> bool:
    return request.method == "POST" and urlsplit(request.url).path == "/api/ask"


def fmt(text: str, **values: object) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), text)


def ask_recorded(chat, question: str):
    """Ask and return (answer locator, the response JSON)."""
    before = chat.answers.count()
    with chat.page.expect_response(lambda r: is_ask(r.request) and r.status == 200) as response:
        chat.input.fill(question)
        chat.input.press("Enter")
    return chat.wait_for_answer(before), response.value.json()


@pytest.fixture
def axe_context(new_context):
    # axe-core is injected as an inline script, which the page's Content-Security-Policy rightly blocks.
    def make(viewport=DESKTOP):
        return new_context(bypass_csp=True, viewport=viewport)
    return make


# -- the widget's own message catalogs ------------------------------------------------------------------------

def test_every_language_has_every_widget_string_with_the_same_placeholders():
    catalogs = {lang: json.loads((WIDGET_MESSAGES / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES}
    keys = {k for k in catalogs["de"] if k.startswith("ui.")}
    for lang, messages in catalogs.items():
        assert {k for k in messages if k.startswith("ui.")} == keys, lang
        for key in keys:
            assert set(re.findall(r"\{\w+\}", messages[key])) == set(re.findall(r"\{\w+\}", catalogs["de"][key])), \
                (lang, key)
        assert messages["@provenance"].startswith("authoritative" if lang == "de" else "unofficial"), lang


# -- 1. reliable input ------------------------------------------------------------------------------------------

def test_a_question_replaced_while_loading_is_marked_cancelled(chat, page, catalogs):
    held: list[Route] = []
    page.route("**/api/ask", lambda route: held.append(route) if not held else route.continue_())
    chat.open()
    chat.input.fill(UKRAINIAN_QUESTION)
    chat.input.press("Enter")
    expect(chat.host.locator("[role=status]")).to_have_text(catalogs("de")["ui.loading"])
    chat.ask(GERMAN_QUESTION)
    first = chat.questions.first
    expect(first.locator(".badge.cancelled")).to_have_text(catalogs("de")["ui.cancelled"])
    expect(chat.questions.last.locator(".badge.cancelled")).to_have_count(0)
    expect(chat.answers).to_have_count(1)


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_after_an_error_the_question_stays_and_try_again_sends_it(new_context, chat_on, catalogs, viewport):
    page = new_context(viewport=VIEWPORTS[viewport]).new_page()
    failures: list[str] = []

    def fail_once(route: Route) -> None:
        if not failures:
            failures.append(route.request.post_data or "")
            route.fulfill(status=500, json={"detail": "boom"})
        else:
            route.continue_()

    page.route("**/api/ask", fail_once)
    chat = chat_on(page).open()
    chat.input.fill(GERMAN_QUESTION)
    chat.input.press("Enter")
    expect(chat.errors).to_have_count(1)
    expect(chat.input).to_have_value(GERMAN_QUESTION)
    retry = chat.errors.locator("[part~=retry-button]")
    expect(retry).to_have_text(catalogs("de")["ui.retry"])
    with page.expect_request(is_ask) as again:
        retry.click()
    assert json.loads(again.value.post_data)["question"] == GERMAN_QUESTION
    answer = chat.wait_for_answer(0)
    expect(answer.locator(".answer-text")).not_to_be_empty()
    expect(chat.input).to_have_value("")
    expect(retry).to_have_count(0)


def test_the_counter_warns_near_the_limit_and_refuses_a_longer_question(chat, page, catalogs):
    de = catalogs("de")
    chat.open()
    counter = chat.host.locator("[part~=counter]")
    note = chat.host.locator("[part~=limit-note]")
    expect(counter).to_have_text(fmt(de["ui.counter"], count=0, max=1000))
    chat.input.fill("a" * 950)
    expect(counter).to_have_text(fmt(de["ui.counter"], count=950, max=1000))
    expect(note).to_have_text(fmt(de["ui.near_limit"], max=1000))

    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if is_ask(request) else None)
    pasted = ("Wo finde ich eine Dolmetscherin? " * 70)[:2000]
    chat.input.fill(pasted)
    expect(counter).to_have_text(fmt(de["ui.counter"], count=len(pasted.strip()), max=1000))
    chat.input.press("Enter")
    expect(note).to_have_text(fmt(de["ui.too_long"], count=len(pasted.strip()), max=1000))
    expect(chat.input).to_have_value(pasted)  # nothing cut
    expect(chat.input).to_have_attribute("aria-invalid", "true")
    page.wait_for_timeout(300)
    assert asked == [] and chat.questions.count() == 0


def test_new_conversation_clears_the_log_and_the_follow_up_context(chat, page, catalogs):
    chat.open()
    new = chat.host.locator("[part~=new-conversation]")
    expect(new).to_be_hidden()
    chat.ask(GERMAN_QUESTION)
    expect(new).to_have_text(catalogs("de")["ui.new_conversation"])
    new.click()
    expect(chat.answers).to_have_count(0)
    expect(chat.questions).to_have_count(0)
    expect(chat.starters.first).to_be_visible()
    expect(chat.input).to_be_focused()
    with page.expect_request(is_ask) as request:
        chat.ask(UKRAINIAN_QUESTION)
    assert "previous" not in json.loads(request.value.post_data)


# -- 7. follow-up context ---------------------------------------------------------------------------------------

def answer_unit_ids(data: dict) -> list[str]:
    """What the widget sends for a turn: contact cards first (the server reads them as what the answer was
    about), then the cited units; no general fallback contact; at most 10."""
    cards = [c["id"] for c in data["contacts"] if c["role"] != "fallback"]
    return list(dict.fromkeys(cards + [c["id"] for c in data["citations"]]))[:10]


@pytest.mark.parametrize(("lang", "first", "follow_up", "lead"), [
    ("uk", "Як знайти місце в дитячому садку?", "Що потрібно принести?", "svc/jugendamt"),
    ("ar", "تعرضت للتمييز في العمل، أين أجد المساعدة؟", "كم تكلفة ذلك؟", "svc/antidiskriminierungsstelle"),
])
def test_a_two_turn_conversation_answers_the_follow_up_about_the_first_answer(chat, lang, first, follow_up, lead):
    chat.open()
    _, first_data = ask_recorded(chat, first)
    assert first_data["contacts"][0]["id"] == lead
    answer, data = ask_recorded(chat, follow_up)
    # Asked alone, "what do I need to bring?" / "what does it cost?" has no topic; after the first answer it
    # is about that service: its card comes first, and what the sources do not say is said (partial).
    assert data["follow_up"] is True and data["lang"] == lang
    assert data["contacts"][0]["id"] == lead and data["coverage"] == "partial"
    expect(answer.locator("[part~=office-card]").first).to_contain_text(data["contacts"][0]["name"])

def test_follow_up_questions_carry_the_last_two_turns_where_the_server_takes_them(chat, page, live_server):
    with urllib.request.urlopen(f"{live_server}/openapi.json", timeout=10) as response:
        schema = json.load(response)
    accepted = "previous" in schema["components"]["schemas"]["AskRequest"]["properties"]
    bodies: list[dict] = []
    page.on("request", lambda r: bodies.append(json.loads(r.post_data)) if is_ask(r) else None)
    chat.open()
    questions = [GERMAN_QUESTION, "Wer hilft bei Diskriminierung?", "Wo bekomme ich eine Dolmetscherin?"]
    units = []
    for question in questions:
        _, data = ask_recorded(chat, question)
        units.append(answer_unit_ids(data))
    expect(chat.answers).to_have_count(3)
    expect(chat.errors).to_have_count(0)
    assert "previous" not in bodies[0]
    with_previous = [b for b in bodies if "previous" in b]
    assert with_previous, "no question carried the follow-up context"
    assert with_previous[0]["previous"] == [{"question": questions[0], "unit_ids": units[0]}]
    if accepted:
        expected = [{"question": q, "unit_ids": u} for q, u in zip(questions[:2], units[:2], strict=True)]
        assert bodies[2]["previous"] == expected
    else:
        # An older server refuses the field (422 naming it): asked again at once without it, then never sent again.
        assert len(bodies) == 4 and "previous" not in bodies[2] and "previous" not in bodies[3]


# -- 2. phone and screen-reader fit -------------------------------------------------------------------------------

def test_a_long_answer_on_a_phone_starts_collapsed_and_expands_on_demand(axe_context, chat_on, check_axe, artifacts):
    page = axe_context(PHONE).new_page()
    chat = chat_on(page).open()
    answer, data = ask_recorded(chat, UKRAINIAN_QUESTION)
    toggle = answer.locator("[part~=more-toggle]")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(answer.locator("[part~=office-card]:visible")).to_have_count(1)
    expect(answer.locator("[part~=citation]").first).to_be_hidden()
    height = answer.bounding_box()["height"]
    answer.screenshot(path=str(artifacts / "widget-long-answer-collapsed-375.png"))
    check_axe(page)

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(answer.locator("[part~=citation]")).to_have_count(len(data["citations"]))
    expect(answer.locator("[part~=citation]").first).to_be_visible()
    assert answer.bounding_box()["height"] > height
    check_axe(page)
    toggle.click()
    expect(answer.locator("[part~=citation]").first).to_be_hidden()
    # A citation marker opens "More" by itself.
    answer.locator("button.marker").first.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(answer.locator("[part~=citation][open] summary")).to_be_focused()


def test_on_a_desktop_everything_is_shown(chat):
    chat.open()
    answer = chat.ask(UKRAINIAN_QUESTION)
    expect(answer.locator("[part~=more-toggle]")).to_have_count(0)
    expect(answer.locator("[part~=citation]").first).to_be_visible()


def test_touch_targets_are_at_least_24_pixels(new_context, chat_on):
    page = new_context(viewport=PHONE).new_page()
    chat = chat_on(page).open()
    answer = chat.ask(UKRAINIAN_QUESTION)
    answer.locator("[part~=more-toggle]").click()
    sizes = answer.locator("button.marker:visible, .as-of a:visible, button:visible, .contact a:visible").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {what: e.className || e.localName, text: e.textContent.slice(0, 20), w: r.width, h: r.height}; })")
    assert len(sizes) > 5
    small = [s for s in sizes if s["w"] < 24 or s["h"] < 24]
    assert not small, small


def test_screen_readers_get_a_short_summary_named_citations_and_focus_on_the_answer(chat, catalogs):
    de = catalogs("de")
    chat.open()
    expect(chat.host.locator("[part~=log]")).to_have_attribute("aria-live", "off")
    answer, data = ask_recorded(chat, "Ich wurde diskriminiert. Wer hilft mir?")
    expect(answer).to_be_focused()
    card = data["contacts"][0]
    phone = card["contact"]["phone"][0]["value"]
    announcer = chat.host.locator("[aria-live=polite][aria-atomic=true]")
    expect(announcer).to_have_text(fmt(de["ui.announce_phone"], name=card["name"], phone=phone))
    assert len(announcer.inner_text()) < 200
    marker = answer.locator("button.marker").first
    first = data["citations"][0]
    expect(marker).to_have_attribute("aria-label", fmt(de["ui.cite_label"], n=first["n"], title=first["title"]))


# -- 3. act on the answer -----------------------------------------------------------------------------------------

def test_copy_puts_the_answer_and_its_sources_on_the_clipboard(context, chat_on, catalogs, live_server):
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = context.new_page()
    chat = chat_on(page).open()
    answer, data = ask_recorded(chat, GERMAN_QUESTION)
    answer.locator("[data-action=copy]").click()
    expect(answer.locator(".action-note")).to_have_text(catalogs("de")["ui.copied"])
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(data["answer"][:60])
    assert data["citations"][0]["title"] in copied


def test_copy_without_clipboard_says_so(chat, page, catalogs):
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    chat.open()
    answer = chat.ask(GERMAN_QUESTION)
    answer.locator("[data-action=copy]").click()
    expect(answer.locator(".action-note")).to_have_text(catalogs("de")["ui.copy_failed"])


def test_a_shared_link_asks_the_question_again(new_context, chat_on, live_server):
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = context.new_page()
    chat = chat_on(page).open()
    chat.choose_language("uk")
    answer = chat.ask(UKRAINIAN_QUESTION)
    answer.locator("[data-action=share]").click()
    link = answer.locator(".action-note a.share-link")
    href = link.get_attribute("href")
    query = parse_qs(urlsplit(href).query)
    assert query == {"frage": [UKRAINIAN_QUESTION], "lang": ["uk"]}
    assert unquote(page.evaluate("navigator.clipboard.readText()")) == unquote(href)

    other = chat_on(context.new_page())
    with other.page.expect_request(is_ask) as request:
        other.page.goto(href)
    assert json.loads(request.value.post_data) == {"question": UKRAINIAN_QUESTION, "lang": "uk", "simple": False}
    shared = other.wait_for_answer(0)
    expect(shared).to_have_attribute("lang", "uk")
    expect(other.questions.first.locator(".text")).to_have_text(UKRAINIAN_QUESTION)


def test_print_prints_only_the_answer(chat, page):
    page.add_init_script("window.__printed = 0; window.print = () => { window.__printed += 1; };")
    chat.open()
    chat.ask(GERMAN_QUESTION)
    answer = chat.ask("Ich wurde diskriminiert. Wer hilft mir?")
    answer.locator("[data-action=print]").click()
    assert page.evaluate("window.__printed") == 1
    page.emulate_media(media="print")
    expect(page.locator("h1")).to_be_hidden()
    expect(answer.locator(".answer-text")).to_be_visible()
    expect(chat.answers.first).to_be_hidden()
    expect(chat.input).to_be_hidden()
    expect(answer.locator("[data-action=print]")).to_be_hidden()
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    expect(page.locator("h1")).to_be_visible()  # still print media: the print-only rules are gone
    page.emulate_media(media="screen")


@pytest.mark.parametrize(("lang", "viewport"), [("de", "desktop"), ("uk", "phone"), ("ar", "phone"), ("ar", "desktop")])
def test_the_counter_card_shows_the_german_answer_large_and_left_to_right(
        axe_context, chat_on, catalogs, check_axe, artifacts, lang, viewport):
    page = axe_context(VIEWPORTS[viewport]).new_page()
    chat = chat_on(page).open()
    if lang != "de":
        chat.choose_language(lang)
    answer, data = ask_recorded(chat, PERSON_QUESTIONS[lang].split(".")[0] + ".")
    opener = answer.locator("[data-action=counter-card]")
    expect(opener).to_have_text(catalogs(lang)["ui.counter_card"])
    opener.click()
    dialog = chat.host.locator("dialog[part~=counter-card]")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("lang", "de")
    expect(dialog).to_have_attribute("dir", "ltr")
    expect(dialog.locator(".card-answer")).to_contain_text(data["answer_de"].split("\n")[0][:50])
    card = data["contacts"][0]
    expect(dialog.locator(".card-office")).to_have_text(card["name"])
    expect(dialog).to_contain_text(card["contact"]["phone"][0]["value"])
    expect(dialog).to_contain_text(catalogs("de")["contact.phone"])
    expect(dialog).to_contain_text(fmt(catalogs("de")["answer.as_of"], date=data["citations"][0]["as_of"]))
    close = dialog.locator("[part~=counter-card-close]")
    expect(close).to_be_focused()
    expect(close).to_have_text(catalogs(lang)["ui.close"])
    font = float(dialog.locator(".card-answer").evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert font >= 20
    page.screenshot(path=str(artifacts / f"widget-counter-card-{lang}-{viewport}.png"))
    box = dialog.bounding_box()
    assert box["width"] >= VIEWPORTS[viewport]["width"] - 1
    # Focus stays in the dialog (the page behind it is inert).
    for _ in range(6):
        page.keyboard.press("Tab")
        assert chat.shadow_eval("root => !!root.activeElement?.closest('dialog')") or \
            page.evaluate("document.activeElement === document.body")
    check_axe(page)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()


# -- 4. a person to talk to ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "viewport"), [("de", "desktop"), ("uk", "phone"), ("ar", "phone")])
def test_asking_for_a_person_offers_a_hand_over_with_a_german_message(
        axe_context, chat_on, catalogs, check_axe, artifacts, lang, viewport):
    page = axe_context(VIEWPORTS[viewport]).new_page()
    chat = chat_on(page).open()
    if lang != "de":
        chat.choose_language(lang)
    question = PERSON_QUESTIONS[lang]
    answer, data = ask_recorded(chat, question)
    box = answer.locator("[part~=handover]")
    expect(box.locator("h3")).to_have_text(catalogs(lang)["ui.handover_title"])
    card = next(c for c in data["contacts"] if c["role"] in ("lead", "responsible", "office"))
    expect(box.locator(".office-name")).to_have_text(card["name"])
    message = box.locator("textarea")
    expect(message).to_have_attribute("lang", "de")
    expect(message).to_have_value(re.compile(r"^Guten Tag"))
    value = message.input_value()
    assert question in value and data["answer_de"].split("\n")[0][:40] in value
    mail = box.locator("a.mail")
    emails = [item["value"] for item in card["contact"].get("email", [])]
    if emails:
        expect(mail).to_have_text(catalogs(lang)["ui.handover_mail"])
        href = mail.get_attribute("href")
        assert href.startswith(f"mailto:{emails[0]}?subject=") and "Guten%20Tag" in href
    else:
        expect(mail).to_have_count(0)  # no address in the sources: copy the message instead
    if lang == "de":
        assert emails, "the German case is meant to show the e-mail hand-over"
    box.screenshot(path=str(artifacts / f"widget-handover-{lang}.png"))
    check_axe(page)


def test_a_partly_answered_question_hands_over_to_the_office_with_language_mediation(chat, catalogs):
    chat.open()
    answer, data = ask_recorded(chat, FEE_QUESTION)
    assert data["coverage"] == "partial"
    box = answer.locator("[part~=handover]")
    expect(box.locator(".office-name")).to_contain_text("Ausländerbehörde")
    expect(box.locator(".mediation")).to_have_text(catalogs("de")["ui.handover_mediation"])


def test_a_plain_full_answer_has_no_hand_over(chat):
    chat.open()
    answer, data = ask_recorded(chat, UKRAINIAN_QUESTION)
    assert data["coverage"] == "full"
    expect(answer.locator("[part~=handover]")).to_have_count(0)


# -- 5. read aloud ------------------------------------------------------------------------------------------------

VOICES = """
window.__spoken = [];
const voices = %s;
speechSynthesis.getVoices = () => voices;
speechSynthesis.speak = (u) => window.__spoken.push({text: u.text, lang: u.lang});
"""


def test_read_aloud_speaks_the_answer_with_a_matching_voice(chat, page, catalogs):
    voice = '{lang: "uk-UA", name: "Test", voiceURI: "test", localService: true, default: true}'
    page.add_init_script(VOICES % f"[{voice}]")
    chat.open()
    chat.choose_language("uk")
    answer, data = ask_recorded(chat, UKRAINIAN_QUESTION)
    button = answer.locator("[data-action=read-aloud]")
    expect(button).to_have_text(catalogs("uk")["ui.read_aloud"])
    button.click()
    spoken = page.evaluate("window.__spoken")
    assert len(spoken) == 1 and spoken[0]["lang"] == "uk-UA"
    expected = re.sub(r"\[\d+\]", "", re.sub("[\u2066-\u2069]", "", data["answer"]))
    assert spoken[0]["text"] == expected
    expect(button).to_have_attribute("aria-pressed", "true")


@pytest.mark.parametrize("voices", ["[]", '[{lang: "en-US", name: "E", voiceURI: "e", localService: true}]'])
def test_without_a_voice_for_the_language_there_is_no_read_aloud_button(chat, page, voices):
    page.add_init_script(VOICES % voices)
    chat.open()
    answer = chat.ask(GERMAN_QUESTION)
    expect(answer.locator("[data-action=copy]")).to_be_visible()
    expect(answer.locator("[data-action=read-aloud]")).to_be_hidden()


# -- 6. feedback --------------------------------------------------------------------------------------------------

def feedback_endpoint_exists(live_server: str) -> bool:
    request = urllib.request.Request(f"{live_server}/api/feedback", method="POST", data=b"{}",
                                     headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10)
        return True
    except urllib.error.HTTPError as exc:
        return exc.code not in (404, 405)


def test_feedback_with_a_reason_is_posted(chat, page, catalogs, live_server):
    de = catalogs("de")
    chat.open()
    answer, data = ask_recorded(chat, GERMAN_QUESTION)
    box = answer.locator("[part~=feedback]")
    expect(box).to_contain_text(de["ui.helpful"])
    box.locator("[data-action=helpful][data-value=no]").click()
    reason = box.locator("[data-action=reason][data-value=outdated_contact]")
    expect(reason).to_have_text(de["ui.reason.outdated_contact"])
    with page.expect_response("**/api/feedback") as response:
        reason.click()
    body = json.loads(response.value.request.post_data)
    assert body == {"unit_ids": [c["id"] for c in data["citations"]][:10], "lang": "de",
                    "coverage": data["coverage"], "helpful": False, "reason": "outdated_contact"}
    note = box.locator(".feedback-note")
    if response.value.status == 204:
        expect(note).to_have_text(de["ui.feedback_thanks"])
    else:
        expect(note).to_have_text(de["ui.feedback_failed"])  # fails quietly, with a small note
        if not feedback_endpoint_exists(live_server):
            pytest.skip("POST /api/feedback does not exist on this server yet: only the quiet failure was checked")
        pytest.fail(f"POST /api/feedback answered {response.value.status}, expected 204")


def test_feedback_yes_is_posted_without_a_reason(chat, page):
    chat.open()
    answer, _ = ask_recorded(chat, GERMAN_QUESTION)
    with page.expect_request("**/api/feedback") as request:
        answer.locator("[data-action=helpful][data-value=yes]").click()
    body = json.loads(request.value.post_data)
    assert body["helpful"] is True and body["reason"] is None
    expect(answer.locator(".feedback-note")).not_to_be_empty()
    expect(answer.locator("[data-action=helpful]:visible")).to_have_count(0)
