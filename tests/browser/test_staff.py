"""The staff search page (/staff, api/static/staff.js) against the real API and index."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def is_search(response) -> bool:
    return urlsplit(response.url).path == "/api/search"


def search(page: Page, words: str) -> dict:
    """Type like a person (the page searches as you type) and return the last search response."""
    page.goto("/staff")
    expect(page.locator("#office option")).not_to_have_count(1)  # the office list has loaded
    def is_final_search(response) -> bool:
        return is_search(response) and parse_qs(urlsplit(response.url).query).get("q") == [words]

    with page.expect_response(is_final_search) as response:
        page.locator("#q").press_sequentially(words, delay=15)
    expect(page.locator("#hits > li").first).to_be_visible()
    return response.value.json()


def test_typing_shows_hits_with_their_offices(page):
    result = search(page, "Sprachmittlung")
    hits = page.locator("#hits > li")
    expect(hits).to_have_count(len(result["hits"]))
    expect(page.locator("#result-count")).to_contain_text(f"{len(result['hits'])} Treffer")
    expect(page.locator("#result-count")).to_have_attribute("aria-live", "polite")
    expect(hits.first.locator(".hit-title")).to_have_text(result["hits"][0]["title"])
    top_texts = [hits.nth(i).locator(".hit-text").inner_text() for i in range(min(3, len(result["hits"])))]
    assert any("Sprachmittlung" in text for text in top_texts), top_texts
    # Services are their own contact; the first measure hit must show who is responsible for it.
    index, best = next((i, h) for i, h in enumerate(result["hits"]) if h["offices"])
    assert index < 3, "no hit with a responsible office among the first three"
    hit = hits.nth(index)
    expect(hit.locator(".office-link")).to_have_text([o["name"] for o in best["offices"]])
    source = hit.locator(".hit-meta a")
    assert urlsplit(source.get_attribute("href")).path.startswith("/sources/")
    if best.get("termin"):
        expect(hit.locator(".termin")).to_contain_text(best["termin"])


def test_facet_counts_are_shown_next_to_the_filters(page):
    result = search(page, "Sprachmittlung")
    office_id, count = next(iter(result["facets"]["office"].items()))
    expect(page.locator(f'#office option[value="{office_id}"]')).to_contain_text(f"({count})")
    field, field_count = next(iter(result["facets"]["field"].items()))
    expect(page.locator(f'#field option[value="{field}"]')).to_contain_text(f"({field_count})")


def test_an_office_filter_narrows_the_results_and_opens_the_office_view(page):
    result = search(page, "Sprachmittlung")
    total = len(result["hits"])
    office_id = next(o for o, n in result["facets"]["office"].items() if 0 < n < total)
    with page.expect_response(lambda r: is_search(r) and "office=" in r.url) as narrowed:
        page.locator("#office").select_option(office_id)
    narrowed_hits = narrowed.value.json()["hits"]
    assert 0 < len(narrowed_hits) < total
    expect(page.locator("#hits > li")).to_have_count(len(narrowed_hits))
    expect(page.locator("#result-count")).to_contain_text("gefiltert")
    for hit in page.locator("#hits > li").all():
        expect(hit.locator(f'.office-link[data-office="{office_id}"]')).to_have_count(1)

    view = page.locator("#office-view")
    expect(view).to_be_visible()
    expect(view.locator(".responsibility").first).to_be_visible()
    assert parse_qs(urlsplit(page.url).query)["office"] == [office_id]


def test_the_office_view_lists_everything_an_office_is_responsible_for(page):
    search(page, "Sprachmittlung")
    link = page.locator("#hits > li .office-link").first
    name = link.inner_text()
    office_id = link.get_attribute("data-office")
    with page.expect_response(lambda r: urlsplit(r.url).path == f"/api/offices/{office_id.split('/')[1]}") \
            as response:
        link.click()
    office = response.value.json()
    view = page.locator("#office-view")
    expect(view.locator("#office-view-title")).to_have_text(name)
    expect(view.locator("#office-view-title")).to_be_focused()
    items = view.locator(".responsibility")
    expect(items).to_have_count(len(office["responsibilities"]))
    assert len(office["responsibilities"]) == office["units"] > 0
    expect(items.first.locator(".responsibility-title")).to_have_text(office["responsibilities"][0]["title"])
    expect(items.first.locator("a")).to_have_attribute("href", office["responsibilities"][0]["url"])
    expect(page.locator("#office")).to_have_value(office_id)

    view.locator("#office-view-close").click()
    expect(view).to_be_hidden()
    expect(page.locator("#office")).to_have_value("")


def test_a_word_the_texts_do_not_contain_shows_no_hits_and_says_why(page):
    page.goto("/staff")
    expect(page.locator("#office option")).not_to_have_count(1)
    with page.expect_response(lambda r: is_search(r) and "asdfghjk" in r.url) as response:
        page.locator("#q").fill("asdfghjk")
    assert response.value.json()["hits"] == []
    count = page.locator("#result-count")
    expect(count).to_contain_text("Keine Treffer für „asdfghjk“")
    expect(count).to_contain_text("Schreibweise")
    expect(page.locator("#hits > li")).to_have_count(0)


def test_a_field_can_be_browsed_without_a_query(page):
    page.goto("/staff")
    expect(page.locator("#office option")).not_to_have_count(1)
    with page.expect_response(lambda r: is_search(r) and "field=2.4" in r.url) as response:
        page.locator("#field").select_option("2.4")
    result = response.value.json()
    assert "q" not in parse_qs(urlsplit(response.value.url).query)
    hits = page.locator("#hits > li")
    expect(hits).to_have_count(len(result["hits"]))
    assert len(result["hits"]) > 5
    expect(hits.first.locator(".hit-title")).to_have_text(result["hits"][0]["title"])
    expect(page.locator("#result-count")).to_contain_text(f"{len(result['hits'])} Einträge: Handlungsfeld 2.4")
    # The address can be shared: opening it lists the same units.
    assert parse_qs(urlsplit(page.url).query) == {"field": ["2.4"]}
    page.reload()
    expect(page.locator("#hits > li")).to_have_count(len(result["hits"]))


def test_an_office_can_be_browsed_exported_and_printed(page, context):
    page.goto("/staff")
    expect(page.locator("#office option")).not_to_have_count(1)
    with page.expect_response(lambda r: is_search(r) and "office=" in r.url) as response:
        page.locator("#office").select_option("office/fd-gesundheit")
    hits = response.value.json()["hits"]
    expect(page.locator("#hits > li")).to_have_count(len(hits))
    view = page.locator("#office-view")
    expect(view.locator(".responsibility").first).to_be_visible()
    responsibilities = view.locator(".responsibility").count()

    with page.expect_download() as download_info:
        view.get_by_role("link", name="Liste als CSV (Excel)").click()
    download = download_info.value
    assert download.suggested_filename == "massnahmen-fd-gesundheit.csv"
    data = open(download.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbf")
    assert len(data.decode("utf-8-sig").strip().splitlines()) >= responsibilities + 1

    view.get_by_role("link", name="Druckansicht").click()
    expect(page).to_have_url(re.compile(r"/staff/offices/fd-gesundheit/print$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Fachdienst Gesundheit")
    expect(page.locator("table.units tbody tr")).to_have_count(responsibilities)
    expect(page.get_by_role("button", name="Drucken")).to_be_visible()
    # On paper: no navigation and no button, the table with its header.
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.get_by_role("button", name="Drucken")).to_be_hidden()
    expect(page.locator("table.units thead")).to_be_visible()
