"""axe-core on the demo page (with the widget's shadow DOM and an answer shown) and on the staff page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


@pytest.fixture
def axe_page(new_context):
    # axe-core is injected as an inline script, which the pages' Content-Security-Policy rightly blocks.
    return new_context(bypass_csp=True).new_page()


@pytest.mark.parametrize("lang", ["uk", "ar"])
def test_demo_page_with_an_answer_has_no_serious_violations(axe_page, chat_on, check_axe, lang):
    chat = chat_on(axe_page).open()
    chat.choose_language(lang)
    chat.starters.first.click()
    answer = chat.wait_for_answer(0)
    answer.locator("[part~=citation] summary").first.click()
    answer.locator("button[data-action=toggle-german]").click()
    check_axe(axe_page)


def test_staff_page_with_results_and_office_view_has_no_serious_violations(axe_page, check_axe):
    axe_page.goto("/staff")
    expect(axe_page.locator("#office option")).not_to_have_count(1)
    axe_page.locator("#q").fill("Sprachmittlung")
    expect(axe_page.locator("#hits > li").first).to_be_visible()
    axe_page.locator("#hits .office-link").first.click()
    expect(axe_page.locator("#office-view .responsibility").first).to_be_visible()
    check_axe(axe_page)


def test_office_print_view_has_no_serious_violations(axe_page, check_axe):
    axe_page.goto("/staff/offices/buero-migration-integration/print")
    expect(axe_page.locator("table.units tbody tr").first).to_be_visible()
    check_axe(axe_page)


def test_dashboard_with_counts_has_no_serious_violations(axe_page, check_axe):
    request = axe_page.context.request
    answer = request.post("/api/ask", data={"question": "Wo lerne ich Deutsch?", "lang": "uk"}).json()
    feedback = {"unit_ids": [c["id"] for c in answer["citations"]][:10], "lang": answer["lang"],
                "coverage": answer["coverage"], "helpful": False, "reason": "not_understandable"}
    assert request.post("/api/feedback", data=feedback).status == 204
    axe_page.goto("/staff/dashboard")
    expect(axe_page.locator("#feedback tbody tr").first).to_be_visible()
    check_axe(axe_page)


def test_source_page_with_marked_quote_has_no_serious_violations(axe_page, check_axe):
    axe_page.goto("/sources/procedures?unit=proc-wohnung-anmelden&lines=4,5#proc-wohnung-anmelden")
    expect(axe_page.locator("#proc-wohnung-anmelden p.quoted mark").first).to_be_visible()
    check_axe(axe_page)
