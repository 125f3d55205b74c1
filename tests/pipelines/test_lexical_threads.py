"""Sparse vectors stay correct when several threads stem at once (request threads beside a re-ingest)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from pipelines import lexical
from pipelines.lexical import stem_terms
from tests.conftest import CORPUS


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads as often as possible, so that unsafe shared state shows up within a few runs."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def test_concurrent_stemming_gives_the_same_terms_as_one_thread(frequent_thread_switches: None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    text = (CORPUS / "integrationskonzept.md").read_text(encoding="utf-8")[:8000]
    expected = stem_terms(text, "de")
    # A cache of a few words is cleared all the time: the stemmers themselves run in every thread, and a
    # thread's words may vanish from the shared cache while it stems.
    monkeypatch.setattr(lexical, "MAX_CACHED_STEMS", 5)
    results: list[list[str]] = []
    errors: list[str] = []

    def stem_repeatedly() -> None:
        for _ in range(15):
            try:
                results.append(stem_terms(text, "de"))
            except Exception as exc:  # noqa: BLE001 - a shared stemmer raises IndexError mid-word
                errors.append(repr(exc))

    threads = [threading.Thread(target=stem_repeatedly) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 60 and all(terms == expected for terms in results)
