"""Builds left over by killed ingests: which ones a sweep removes, in the embedded store and on a server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from qdrant_client import QdrantClient

from pipelines.settings import Settings
from pipelines.store import (
    build_of,
    builds_in_use,
    collection_name,
    create_collection,
    drop_leftover_builds,
    leftover_builds,
    new_build_name,
    retire_build,
    switch_aliases,
)

HOUR = 3600.0


@pytest.fixture
def settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(qdrant_path=tmp_path / "unused")


@pytest.fixture
def client() -> Iterator[QdrantClient]:
    client = QdrantClient(":memory:")
    yield client
    client.close()


def _build(client: QdrantClient, settings: Settings, languages: tuple[str, ...] = ("de", "en")) -> str:
    build = new_build_name(settings)
    for language in languages:
        create_collection(client, collection_name(build, language), 4, {"language": language})
    return build


def _served_and_partial(client: QdrantClient, settings: Settings) -> tuple[str, str]:
    served = _build(client, settings)
    switch_aliases(client, settings, served, ["de", "en"])
    return served, _build(client, settings, ("de",))  # a killed ingest got as far as its first collection


def _collections(client: QdrantClient) -> set[str]:
    return {c.name for c in client.get_collections().collections}


def test_build_names_are_recognised_and_nothing_else(settings: Settings) -> None:
    build = new_build_name(settings)
    assert build_of(settings, collection_name(build, "de-simple")) == build
    assert build_of(settings, f"{build}_de_q") == build
    assert build_of(settings, "wegweiser_units_de") is None  # an alias name
    assert build_of(settings, f"wegweiser_units_test_{build[-20:]}_de") is None  # another deployment's alias
    assert build_of(settings, "notes") is None


def test_the_embedded_store_drops_every_build_that_is_neither_served_nor_in_use(
        client: QdrantClient, settings: Settings) -> None:
    served, partial = _served_and_partial(client, settings)
    client.create_collection("notes", vectors_config={})
    dropped = drop_leftover_builds(client, settings)
    assert dropped == [collection_name(partial, "de")]
    assert _collections(client) == {collection_name(served, "de"), collection_name(served, "en"), "notes"}


def test_a_build_being_written_by_this_process_is_kept(client: QdrantClient, settings: Settings) -> None:
    _, partial = _served_and_partial(client, settings)
    with builds_in_use(partial), builds_in_use(partial):
        assert drop_leftover_builds(client, settings) == []
    assert drop_leftover_builds(client, settings) == [collection_name(partial, "de")]


def test_on_a_server_only_builds_silent_for_long_count_as_leftovers(client: QdrantClient, settings: Settings) -> None:
    # Another server's ingest may be writing the partial build right now: it is kept until it has been silent.
    served, partial = _served_and_partial(client, settings)
    now = time.time()
    assert leftover_builds(client, settings, {served}, stale_after=HOUR, now=now) == {}
    later = now + 2 * HOUR
    assert leftover_builds(client, settings, {served}, stale_after=HOUR, now=later) == {
        partial: [collection_name(partial, "de")]}


def test_a_newer_collection_is_a_sign_of_life_of_its_build(client: QdrantClient, settings: Settings) -> None:
    served, partial = _served_and_partial(client, settings)
    later = time.time() + 2 * HOUR
    client.update_collection(collection_name(partial, "de"), metadata={"created_at": later - 60})
    assert leftover_builds(client, settings, {served}, stale_after=HOUR, now=later) == {}


def test_a_retired_build_is_kept_while_its_requests_drain(client: QdrantClient, settings: Settings) -> None:
    old, new = _served_and_partial(client, settings)
    create_collection(client, collection_name(new, "en"), 4, {"language": "en"})
    switch_aliases(client, settings, new, ["de", "en"])
    retire_build(client, old)
    meta = client.get_collection(collection_name(old, "de")).config.metadata or {}
    assert meta["retired_at"] >= meta["created_at"]
    assert leftover_builds(client, settings, {new}, stale_after=HOUR, now=meta["retired_at"] + 60) == {}


def test_collections_are_stamped_with_their_creation_time(client: QdrantClient, settings: Settings) -> None:
    before = time.time()
    build = _build(client, settings, ("de",))
    metadata = client.get_collection(collection_name(build, "de")).config.metadata or {}
    assert metadata["language"] == "de" and before - 1 <= metadata["created_at"] <= time.time() + 1
