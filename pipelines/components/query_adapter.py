"""A learned linear map on the e5 question vector before dense search (fitted on OMoS-QA train)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from haystack import component


@dataclass(frozen=True)
class AdapterWeights:
    """``y = x + x @ delta`` for questions in ``languages`` (others keep their vector).

    Usage:
    ```python
    weights = AdapterWeights.load(Path("pipelines/query_adapter.npz"))
    weights.apply(vector, "uk")  # a unit vector
    ```
    """

    delta: np.ndarray
    languages: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> AdapterWeights:
        """Read the file written by ``save``."""
        with np.load(path, allow_pickle=False) as data:
            return cls(data["delta"].astype(np.float32), tuple(data["languages"].tolist()))

    def save(self, path: Path) -> None:
        """Write the map (float16: a 384 × 384 map in about 300 kB)."""
        np.savez(path, delta=self.delta.astype(np.float16), languages=np.array(self.languages))

    def apply(self, vector: np.ndarray, language: str) -> np.ndarray:
        """The adapted, L2-normalised vector (the input unchanged for a language the map was not fitted on)."""
        vector = np.asarray(vector, dtype=np.float32)
        if language not in self.languages:
            return vector
        adapted = vector + vector @ self.delta
        return adapted / max(float(np.linalg.norm(adapted)), 1e-12)


@component
class QueryAdapter:
    """Moves a question's e5 vector towards the chunks of the pages that answer such questions.

    e5 places a machine-translated question and the page's text a little apart; a map fitted on training
    questions (identity plus a small, penalised correction) closes part of that gap before dense search. Only
    the dense retriever reads the adapted vector: sentence comparisons keep the plain e5 vector.

    Usage:
    ```python
    adapter = QueryAdapter(weights_path="pipelines/query_adapter.npz")
    adapter.warm_up()
    adapter.run(embedding=vector, language="fr")["embedding"]
    ```
    """

    def __init__(self, weights_path: str) -> None:
        """
        :param weights_path: an ``.npz`` written by ``AdapterWeights.save``.
        """
        self.weights_path = weights_path
        self._weights: AdapterWeights | None = None

    def warm_up(self) -> None:
        """Load the map (once)."""
        if self._weights is None:
            self._weights = AdapterWeights.load(Path(self.weights_path))

    @component.output_types(embedding=list[float])
    def run(self, embedding: list[float], language: str = "de") -> dict[str, Any]:
        """
        :param embedding: the question's e5 vector.
        :param language: the question's language.
        :returns: ``embedding``: the adapted vector.
        """
        self.warm_up()
        assert self._weights is not None
        return {"embedding": self._weights.apply(np.asarray(embedding), language).tolist()}
