"""ServingState across re-ingests: after a swap nothing keeps the old build's stores, pipelines or records."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest

from ingest.indexer import run_ingest
from pipelines.edge import copy_store
from pipelines.query import ask, search
from pipelines.records import shared_record_store
from pipelines.serving import Served, ServingState
from pipelines.settings import Settings
from pipelines.store import close_shared_client
from tests.conftest import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SWAPS = 2


def _use(served: Served) -> None:
    """Fill what a served build caches: answers, search results, records, office names."""
    ask(served.ask, "Wo finde ich einen Dolmetscher für den Arztbesuch?")
    ask(served.ask, "Где в Йене можно выучить немецкий язык?")
    search(served.search, "Sprachmittlung")
    served.records(["svc/vhs", "svc/sprintpool"])


def _watch(served: Served) -> dict[str, weakref.ref[Any]]:
    """Weak references to every object that belongs to one build."""
    index = served.index
    objects: dict[str, Any] = {"served": served, "index": index, "ask": served.ask, "search": served.search,
                               "cache": served.cache, "records": shared_record_store(index.stores["de"]),
                               "oos store": index.oos_store}
    objects.update({f"store {lang}": store for lang, store in index.stores.items()})
    objects.update({f"question store {lang}": store for lang, store in index.question_stores.items()})
    return {f"{served.build} {name}": weakref.ref(obj) for name, obj in objects.items()}


def test_each_swap_releases_every_object_of_the_old_build(ingested_settings: Settings, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    copy_store(ingested_settings.qdrant_path, settings.qdrant_path)
    state = ServingState(settings, check_interval=0.0)
    watched: dict[str, weakref.ref[Any]] = {}
    try:
        for _ in range(SWAPS):
            served = state.current()
            _use(served)
            watched.update(_watch(served))
            old_build = served.build
            del served
            run_ingest(settings, force=True)
            assert state.current().build != old_build
            _use(state.current())
        gc.collect()
        alive = sorted(name for name, ref in watched.items() if ref() is not None)
        assert alive == [], f"still alive after {SWAPS} swaps: {alive}"
    finally:
        close_shared_client(settings)
