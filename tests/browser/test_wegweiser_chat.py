"""The <wegweiser-chat> widget (widget/wegweiser-chat.js) on the demo page, against the real API and index."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect

pytestmark = pytest.mark.browser

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
ARABIC = re.compile(r"[\u0600-\u06ff]")
GERMAN = re.compile(r"[äöüßÄÖÜ]|\b(der|die|das|und|Stadt)\b")
UKRAINIAN_QUESTION = "Де знайти перекладача до лікаря?"
GERMAN_QUESTION = "Wo kann ich Deutsch lernen?"
XSS = '<img src=x onerror="window.__xss=1">'


def is_ask(request) -> bool:
    return request.method == "POST" and urlsplit(request.url).path == "/api/ask"


def test_ukrainian_question_gets_ukrainian_answer_with_german_sources(chat, catalogs):
    chat.open()
    answer = chat.ask(UKRAINIAN_QUESTION)
    text = answer.locator(".answer-text")

    expect(answer).to_have_attribute("lang", "uk")
    expect(answer).to_have_attribute("dir", "ltr")
    assert CYRILLIC.search(text.inner_text())
    # Without a chosen language the interface follows the asker's language.
    uk = catalogs("uk")
    expect(chat.send).to_have_text(uk["ui.send"])
    expect(answer.locator(".notice")).not_to_be_empty()

    citation = answer.locator("[part~=citation]").first
    expect(citation).not_to_have_attribute("open", "")
    citation.locator("summary").click()
    expect(citation).to_have_attribute("open", "")
    # Every citation shows its German text of record; a long unit also quotes its answering lines in German.
    source = citation.locator("blockquote.source-text[lang=de]")
    expect(source).to_be_visible()
    assert GERMAN.search(source.inner_text())
    assert not any(CYRILLIC.search(german) for german in citation.locator("blockquote[lang=de]").all_inner_texts())
    link = citation.locator("a[part=source-link]")
    expect(link).to_have_text(uk["ui.open_source"])
    # The source page, at the unit (with the quoted lines to mark, when a long unit is quoted).
    assert re.match(r"^http://127\.0\.0\.1:\d+/sources/[a-z]+(\?unit=[\w-]+&lines=[\d,]+)?#",
                    link.get_attribute("href"))

    toggle = answer.locator("button[data-action=toggle-german]")
    expect(toggle).to_have_text(uk["ui.show_german"])
    toggle.click()
    expect(text).to_have_attribute("lang", "de")
    expect(text).to_have_attribute("dir", "ltr")
    expect(toggle).to_have_text(uk["ui.show_translation"])
    assert GERMAN.search(text.inner_text())
    assert not CYRILLIC.search(text.inner_text())
    toggle.click()
    expect(text).not_to_have_attribute("lang", "de")
    assert CYRILLIC.search(text.inner_text())


def test_a_long_unit_is_cited_by_its_quoted_lines_and_the_source_page_marks_them(chat, page, catalogs):
    chat.open()
    answer = chat.ask("Які документи потрібні для реєстрації житла в Єні?")
    assert "Wohnungsgeberbestätigung" in answer.locator(".answer-text").inner_text()
    citation = answer.locator("[part~=citation]").first
    citation.locator("summary").click()
    quote = citation.locator("blockquote.quoted-text[lang=de]")
    expect(quote).to_be_visible()
    assert "Wohnungsgeberbestätigung Ihres Vermieters vorlegen" in quote.inner_text()
    expect(citation.locator(".label").first).to_have_text(catalogs("uk")["ui.quoted"])
    translated = citation.locator("blockquote.quoted-text.translated-text")
    assert CYRILLIC.search(translated.inner_text())
    # The whole text of record is still there, after the quote.
    expect(citation.locator("blockquote.source-text")).to_be_visible()
    href = citation.locator("a[part=source-link]").get_attribute("href")
    assert re.match(r"^http://127\.0\.0\.1:\d+/sources/procedures\?unit=proc-wohnung-anmelden&lines=[\d,]+#", href)

    page.goto(href)
    marks = page.locator("#proc-wohnung-anmelden p.quoted mark")
    expect(marks.first).to_be_visible()
    assert marks.count() == len(href.split("lines=")[1].split("#")[0].split(","))
    assert any("Wohnungsgeberbestätigung" in text for text in marks.all_inner_texts())
    # Only the quoted unit has marks, and its lines that do not answer stay unmarked.
    assert page.locator("p.quoted").count() == marks.count()
    assert page.locator("#proc-wohnung-anmelden .unit-text p:not(.quoted)").count() > 0


def test_citation_marker_opens_and_focuses_its_citation(chat):
    chat.open()
    answer = chat.ask(UKRAINIAN_QUESTION)
    marker = answer.locator(".answer-text button.marker").first
    target = marker.get_attribute("aria-controls")
    marker.click()
    citation = answer.locator(f"#{target}")
    expect(citation).to_have_attribute("open", "")
    expect(citation.locator("summary")).to_be_focused()


def test_offices_are_shown_as_cards_with_safe_contact_links(chat, catalogs):
    chat.open()
    answer = chat.ask(GERMAN_QUESTION)
    cards = answer.locator("[part~=office-card]")
    expect(cards.first).to_be_visible()
    hrefs = answer.locator("[part~=office-card] a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs, "no contact links on the office cards"
    assert all(re.match(r"^(https?:|tel:\+?\d+$|mailto:)", href) for href in hrefs), hrefs
    # Every contact item says how current it is ("Stand …" or "Datum unbekannt").
    de = catalogs("de")
    dates = answer.locator("[part~=office-card] .as-of").all_inner_texts()
    unknown, as_of = de["answer.as_of_unknown"], de["answer.as_of"].split("{")[0]
    assert dates and all(d.startswith(as_of) or d.startswith(unknown) for d in dates), dates


def test_arabic_picker_turns_the_widget_right_to_left(chat, catalogs):
    chat.open()
    options = chat.language.locator("option").all_inner_texts()
    assert "العربية" in options and "Українська" in options and "Deutsch" in options
    chat.choose_language("ar")
    ar = catalogs("ar")

    expect(chat.container).to_have_attribute("dir", "rtl")
    expect(chat.host).to_have_attribute("lang", "ar")
    expect(chat.send).to_have_text(ar["ui.send"])
    expect(chat.simple).to_contain_text(ar["ui.simple"])
    expect(chat.input).to_have_attribute("placeholder", ar["ui.placeholder"])
    expect(chat.starters).to_have_text([ar[f"ui.starter.{i}"] for i in range(1, 5)])

    with chat.page.expect_request(is_ask) as request:
        chat.starters.first.click()
    assert json.loads(request.value.post_data)["lang"] == "ar"
    answer = chat.wait_for_answer(0)
    expect(answer).to_have_attribute("dir", "rtl")
    expect(answer).to_have_attribute("lang", "ar")
    assert ARABIC.search(answer.locator(".answer-text").inner_text())


def test_simple_language_is_requested(chat):
    chat.open()
    expect(chat.simple).to_have_attribute("aria-pressed", "false")
    chat.simple.click()
    expect(chat.simple).to_have_attribute("aria-pressed", "true")
    with chat.page.expect_request(is_ask) as request:
        answer = chat.ask(GERMAN_QUESTION)
    assert json.loads(request.value.post_data)["simple"] is True
    assert request.value.response().json()["simple"] is True
    expect(answer.locator(".answer-text")).not_to_be_empty()


def test_a_question_can_be_asked_with_the_keyboard_alone(chat, page):
    chat.open()
    for _ in range(40):
        page.keyboard.press("Tab")
        if chat.focused_part() == "input":
            break
    else:
        pytest.fail("Tab never reached the question field")
    page.keyboard.type(GERMAN_QUESTION)
    page.keyboard.press("Enter")
    answer = chat.wait_for_answer(0)
    # Focus moves to the new answer (a screen reader starts reading there); the field is empty again.
    expect(answer).to_be_focused()
    expect(chat.input).to_have_value("")

    # Back from the question field into the answer: past its action buttons, the last citation comes first.
    chat.input.focus()
    for _ in range(40):
        page.keyboard.press("Shift+Tab")
        if chat.focused_part() == "summary":
            break
    else:
        pytest.fail("Shift+Tab never reached a citation")
    citation = answer.locator("[part~=citation]").last
    expect(citation.locator("summary")).to_be_focused()
    outline = chat.shadow_eval("root => getComputedStyle(root.activeElement).outlineStyle")
    assert outline == "solid", "no visible focus ring on the focused citation"
    page.keyboard.press("Enter")
    expect(citation).to_have_attribute("open", "")
    expect(citation.locator("blockquote.source-text[lang=de]")).to_be_visible()
    page.keyboard.press("Space")
    expect(citation).not_to_have_attribute("open", "")


def test_shift_enter_makes_a_new_line_instead_of_sending(chat, page):
    chat.open()
    chat.input.click()
    page.keyboard.type("Zeile eins")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("Zeile zwei")
    expect(chat.input).to_have_value("Zeile eins\nZeile zwei")
    expect(chat.questions).to_have_count(0)


def test_markup_in_a_question_is_shown_as_text(chat, page):
    chat.open()
    question = f"Wo finde ich Hilfe? {XSS}"
    chat.ask(question)
    expect(chat.questions.last.locator(".text")).to_have_text(question)
    assert chat.shadow_eval("root => root.querySelectorAll('img').length") == 0
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_hostile_api_content_is_rendered_as_text_and_unsafe_links_are_dropped(chat, page):
    evil = XSS
    contact = {
        "website": [{"value": "javascript:window.__xss=1", "source": "javascript:alert(1)", "as_of": None}],
        "email": [{"value": "x@example.org?body=<b>", "source": "data:text/html,<b>", "as_of": "2024"}],
        "phone": [{"value": "+49 (0) 3641 <b>", "source": "https://example.org", "as_of": None}],
    }
    citation = {"n": 1, "id": "ik/x", "kind": "measure", "section": evil, "title": evil, "text": evil,
                "text_translated": evil, "source": evil, "as_of": "2024", "url": "javascript:alert(1)",
                "quote": {"lines": [0], "text": evil, "text_translated": evil, "url": "javascript:alert(1)"}}
    response = {
        "question": evil, "lang": "de", "detected_lang": "de", "answered": True, "simple": False,
        "dir": "ltr", "answer": f"Antwort {evil} [1]", "answer_de": f"Antwort {evil} [1]",
        "citations": [citation],
        "offices": [{"id": "office/x", "name": evil, "name_translated": None, "contact": contact}],
        "services": [], "translation": {"method": "none", "notice": evil},
    }
    page.route("**/api/ask", lambda route: route.fulfill(status=200, json=response))
    chat.open()
    answer = chat.ask("Test")
    expect(answer.locator(".answer-text")).to_contain_text(evil)
    assert chat.shadow_eval("root => root.querySelectorAll('img, script, b').length") == 0
    hrefs = answer.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert all(re.match(r"^(https?:|tel:|mailto:)", href) for href in hrefs), hrefs
    assert "tel:+4903641" in hrefs
    assert not any(href.startswith("mailto:") for href in hrefs)
    assert page.evaluate("typeof window.__xss") == "undefined"


@pytest.mark.parametrize(("status", "key"), [(429, "ui.rate_limited"), (500, "ui.error")])
def test_errors_are_shown_readably(chat, page, catalogs, status, key):
    page.route("**/api/ask", lambda route: route.fulfill(status=status, json={"detail": "nope"}))
    chat.open()
    page.evaluate("""() => {
        window.__errors = [];
        document.querySelector('wegweiser-chat')
            .addEventListener('wegweiser-chat-error', e => window.__errors.push(e.detail.status));
    }""")
    chat.input.fill(GERMAN_QUESTION)
    chat.input.press("Enter")
    expect(chat.errors).to_have_count(1)
    expect(chat.errors.locator(".text")).to_have_text(catalogs("de")[key])
    assert page.evaluate("window.__errors") == [status]
    expect(chat.host.locator("[role=status]")).to_be_empty()


def test_answer_event_carries_the_response(chat, page):
    chat.open()
    page.evaluate("""() => {
        window.__answers = [];
        document.addEventListener('wegweiser-chat-answer', e => window.__answers.push(e.detail));
    }""")
    chat.ask(GERMAN_QUESTION)
    answers = page.evaluate("window.__answers")
    assert len(answers) == 1 and answers[0]["lang"] == "de" and answers[0]["citations"]


def hold_first_ask(page) -> list[Route]:
    """Hold the first /api/ask request (never answered unless the test does); let later ones through."""
    held: list[Route] = []

    def handle(route: Route) -> None:
        if not held:
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/ask", handle)
    return held


def test_a_new_question_aborts_the_previous_one(chat, page):
    held = hold_first_ask(page)
    chat.open()
    with page.expect_request(is_ask) as first:
        chat.input.fill(UKRAINIAN_QUESTION)
        chat.input.press("Enter")
    expect(chat.host.locator("[role=status]")).not_to_be_empty()
    with page.expect_event("requestfailed", lambda request: request == first.value):
        answer = chat.ask(GERMAN_QUESTION)
    assert first.value.failure == "net::ERR_ABORTED"
    expect(answer).to_have_attribute("lang", "de")
    held[0].fulfill(status=200, json={"answer": "zu spät"})  # the page no longer listens
    expect(chat.answers).to_have_count(1)
    expect(chat.host.locator("[role=status]")).to_be_empty()


def test_removing_the_widget_aborts_its_request(chat, page):
    hold_first_ask(page)
    chat.open()
    with page.expect_request(is_ask) as request:
        chat.input.fill(GERMAN_QUESTION)
        chat.input.press("Enter")
    with page.expect_event("requestfailed", lambda failed: failed == request.value):
        page.evaluate("document.querySelector('wegweiser-chat').remove()")
    assert request.value.failure == "net::ERR_ABORTED"


def test_removing_and_re_adding_the_widget_leaves_one_set_of_listeners(chat, page):
    chat.open()
    page.evaluate("""() => {
        const el = document.querySelector('wegweiser-chat');
        const parent = el.parentNode;
        el.remove();
        parent.append(el);
    }""")
    requests = []
    page.on("request", lambda request: requests.append(request) if is_ask(request) else None)
    chat.ask(GERMAN_QUESTION)
    expect(chat.questions).to_have_count(1)
    assert len(requests) == 1


def test_a_missing_catalog_falls_back_to_german_and_keeps_the_language(chat, page, catalogs):
    page.route("**/widget/messages/uk.json", lambda route: route.fulfill(status=404, json={"detail": "gone"}))
    page.goto("/")
    page.evaluate("document.querySelector('wegweiser-chat').setAttribute('lang', 'uk')")
    expect(chat.send).to_have_text(catalogs("de")["ui.send"])
    expect(chat.container).to_have_attribute("lang", "de")
    with page.expect_request(is_ask) as request:
        chat.ask(UKRAINIAN_QUESTION)
    assert json.loads(request.value.post_data)["lang"] == "uk"


def test_a_language_without_catalog_gets_a_german_interface_but_is_asked_for(chat, page, catalogs):
    page.goto("/")
    page.evaluate("document.querySelector('wegweiser-chat').setAttribute('lang', 'es')")
    expect(chat.language).to_have_value("es")
    expect(chat.send).to_have_text(catalogs("de")["ui.send"])
    with page.expect_request(is_ask) as request:
        chat.ask(GERMAN_QUESTION)
    assert json.loads(request.value.post_data)["lang"] == "es"


def test_the_widget_fits_a_320_pixel_screen(new_context, chat_on):
    page = new_context(viewport={"width": 320, "height": 640}).new_page()
    chat = chat_on(page).open()
    answer = chat.ask(UKRAINIAN_QUESTION)
    answer.locator("[part~=more-toggle]").click()  # on a phone, sources are behind "More"
    answer.locator("[part~=citation] summary").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    box = chat.host.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320


def test_no_cookies_no_storage_no_third_party_requests(context, live_server, chat_on):
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    # Record every attempt to store something, not only what is left at the end.
    context.add_init_script("""
        window.__writes = [];
        for (const name of ['localStorage', 'sessionStorage']) {
            try {
                const store = window[name];
                const setItem = store.setItem.bind(store);
                store.setItem = (k, v) => { window.__writes.push(name); return setItem(k, v); };
            } catch (e) {}
        }
        const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
        Object.defineProperty(document, 'cookie', {
            get: () => cookie.get.call(document),
            set: (v) => { window.__writes.push('cookie'); cookie.set.call(document, v); },
        });
        const open = indexedDB.open.bind(indexedDB);
        indexedDB.open = (...args) => { window.__writes.push('indexedDB'); return open(...args); };
    """)
    page = context.new_page()
    chat = chat_on(page).open()
    answer = chat.ask(UKRAINIAN_QUESTION)
    answer.locator("[part~=citation] summary").first.click()
    chat.choose_language("ar")
    chat.simple.click()
    chat.ask("أين أتعلم اللغة الألمانية؟")

    assert context.cookies() == []
    assert page.evaluate("window.__writes") == []
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.evaluate("async () => (await indexedDB.databases()).length") == 0
    assert page.evaluate("async () => (await caches.keys()).length") == 0
    assert context.storage_state()["origins"] == []
    foreign = [url for url in urls if not url.startswith(live_server + "/")]
    assert not foreign, f"requests to other origins: {foreign}"
    assert any(url.endswith("/api/ask") for url in urls)


def test_the_widget_works_on_a_portal_page_with_its_own_strict_csp(context, portal, chat_on):
    page = context.new_page()
    page.add_init_script("""
        window.__violations = [];
        document.addEventListener('securitypolicyviolation',
            e => window.__violations.push(e.effectiveDirective + ' ' + e.blockedURI));
    """)
    chat = chat_on(page).open(portal)
    answer = chat.ask(UKRAINIAN_QUESTION)
    assert CYRILLIC.search(answer.inner_text())
    citation = answer.locator("[part~=citation]").first
    citation.locator("summary").click()
    expect(citation.locator("blockquote").first).to_be_visible()
    assert GERMAN.search(citation.inner_text()), "the citation does not expand to its German source text"
    assert page.evaluate("window.__violations") == [], "the widget needs more than the portal's policy allows"

    # The portal's policy is really enforced: an inline script on that page is blocked and reported.
    page.evaluate("""() => {
        const script = document.createElement('script');
        script.textContent = 'window.__inline = 1';
        document.body.append(script);
    }""")
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.__inline") is None
    assert page.evaluate("window.__violations")[0].startswith("script-src")


@pytest.mark.parametrize("lang", ["de", "uk", "ar"])
def test_screenshot_of_an_answer(chat, catalogs, artifacts, lang):
    chat.open()
    if lang != "de":
        chat.choose_language(lang)
    expect(chat.starters.first).to_have_text(catalogs(lang)["ui.starter.1"])
    chat.starters.first.click()
    answer = chat.wait_for_answer(0)
    expect(answer).to_have_attribute("lang", lang)
    answer.locator("[part~=citation] summary").first.click()
    path = artifacts / f"widget-{lang}.png"
    chat.host.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
