"""Keep the pipelines bound to the served index build, and switch to a new build without downtime.

Requests take the current :class:`Served` at their start and use it to the end, so one answer never mixes two
builds. When ``wegweiser ingest`` switches the aliases, the next check (at most every ``check_interval``
seconds) builds pipelines for the new build and swaps them in; requests already running finish on the old
build, which ``ingest`` drops only after a grace period.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from haystack import Pipeline

from pipelines.fast_path import FastPath
from pipelines.memory import release_free_memory, trim_heap
from pipelines.query import ServedIndex, build_query_pipeline, build_search_pipeline, open_served_index
from pipelines.records import shared_record_store
from pipelines.settings import Settings
from pipelines.store import (
    IndexInfo,
    IndexNotReadyError,
    StoreUnavailableError,
    index_info,
    scroll_records,
    served_build,
    shared_client,
    store_client,
)

logger = logging.getLogger(__name__)


class AnswerCache:
    """A small LRU cache of answers for one build (many residents click the same starter questions).

    Kept in memory only, bounded, and gone with the build: a new build starts with an empty cache.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Any | None:
        """The cached value, or None."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                return None
            self._items.move_to_end(key)
            return copy.deepcopy(value)

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        """Remember a value (a copy, so callers may change theirs)."""
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = copy.deepcopy(value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass
class Served:
    """The pipelines of one build.

    ``ask`` and ``search`` are the pipelines (the definition: what tests and evaluation run, what ``dumps()``
    writes); requests run them through ``fast_ask`` and ``fast_search``, which call the same components in the
    same graph without ``Pipeline.run``'s copies (see :mod:`pipelines.fast_path`), with identical answers.
    """

    info: IndexInfo
    index: ServedIndex
    ask: Pipeline
    search: Pipeline
    cache: AnswerCache = field(default_factory=AnswerCache)
    fast_ask: FastPath = field(init=False, repr=False)
    fast_search: FastPath = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.fast_ask = FastPath(self.ask)
        self.fast_search = FastPath(self.search)

    def cached(self, kind: str, run: Any, *args: Any) -> Any:
        """``run(*args)``, remembered per build: identical questions get identical answers anyway."""
        key = (kind, *args)
        value = self.cache.get(key)
        if value is None:
            value = run(*args)
            self.cache.put(key, value)
        return value

    @property
    def build(self) -> str:
        """The build these pipelines read."""
        return self.info.build

    def records(self, unit_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Unit records by id from this build (through the build's shared record cache)."""
        return shared_record_store(self.index.stores["de"]).get(self.build, unit_ids)

    def all_records(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every record of this build (optionally of one kind), in document order."""
        records = scroll_records(store_client(self.index.stores["de"]), self.build, kind)
        return sorted(records, key=lambda r: r.get("order", 0))


class ServingState:
    """The pipelines of the currently served build, rebuilt when the build changes.

    Usage:
    ```python
    state = ServingState(settings)
    served = state.current()          # raises IndexNotReadyError before the first ingest
    ask(served.fast_ask, "Wo finde ich einen Dolmetscher?")
    ```
    """

    def __init__(self, settings: Settings, check_interval: float = 1.0) -> None:
        self.settings = settings
        self.check_interval = check_interval
        self._served: Served | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def _load(self) -> Served:
        info = index_info(self.settings)
        index = open_served_index(self.settings, info)
        ask_pipeline = build_query_pipeline(self.settings, index)
        search_pipeline = build_search_pipeline(self.settings, index)
        ask_pipeline.warm_up()
        search_pipeline.warm_up()
        logger.info("serving build %s (%d points, languages %s)", info.build, info.points, ",".join(info.languages))
        return Served(info, index, ask_pipeline, search_pipeline, AnswerCache(self.settings.answer_cache_size))

    def fresh(self) -> Served | None:
        """The served pipelines if the build was checked within ``check_interval``, else None: what
        :meth:`current` returns without looking at the store (no I/O, never waits)."""
        served = self._served
        if served is not None and time.monotonic() - self._checked_at < self.check_interval:
            return served
        return None

    def current(self) -> Served:
        """The pipelines of the served build.

        :raises IndexNotReadyError: when no index has been built yet.
        :raises StoreUnavailableError: when Qdrant cannot be reached.
        """
        served = self.fresh()
        if served is not None:
            return served
        with self._lock:
            served = self._served
            if served is not None and time.monotonic() - self._checked_at < self.check_interval:
                return served
            try:
                build = served_build(shared_client(self.settings), self.settings)
            except StoreUnavailableError as exc:
                self.last_error = str(exc)
                raise
            except Exception as exc:  # connection refused, timeout: reported as unavailable, retried next time
                self.last_error = f"Qdrant at {self.settings.store_location} is unavailable: {exc}"
                raise StoreUnavailableError(self.last_error) from exc
            if build is None:
                self.last_error = "no index yet: run `wegweiser ingest`"
                raise IndexNotReadyError(self.last_error)
            if served is None or served.build != build:
                replaced = served is not None
                self._served = served = self._load()
                if replaced:
                    # The old build's pipelines go with the last request still on them; what is freed by now
                    # goes back to the system (a re-ingest in this process trims again once it is done).
                    release_free_memory()
                else:
                    # Warming up (lingua's models above all) leaves freed memory resident: given back at once,
                    # without a full garbage collection, which would only add to the start-up time.
                    trim_heap()
            self._checked_at = time.monotonic()
            self.last_error = None
            return served
