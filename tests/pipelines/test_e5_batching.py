"""Questions that wait for the engine at the same time are embedded together, and each gets the vector it would
have got alone."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from pipelines.e5 import E5Pool, QueryBatcher
from tests.pipelines.test_e5 import STRESS_TEXTS


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    pool = E5Pool(size=1)
    return {text: pool.encode([text], is_query=True)[0] for text in STRESS_TEXTS}


def _wait_until(condition, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_questions_that_wait_together_are_one_engine_call(reference: dict[str, np.ndarray]) -> None:
    """With the only handle busy, four questions queue; they are embedded in one call, each with its own
    vector, bit for bit."""
    pool = E5Pool(size=1)
    batcher = QueryBatcher(pool, max_batch=4)
    texts = STRESS_TEXTS[:5]
    results: dict[str, np.ndarray] = {}
    with pool.checkout() as _busy:  # the handle is in use: the first question's batch waits for it
        first = threading.Thread(target=lambda: results.__setitem__(texts[0], batcher.embed(texts[0])))
        first.start()
        _wait_until(lambda: batcher.waiting == 0 and batcher._running == 1)  # noqa: SLF001
        others = [threading.Thread(target=lambda t=t: results.__setitem__(t, batcher.embed(t))) for t in texts[1:]]
        for thread in others:
            thread.start()
        _wait_until(lambda: batcher.waiting == 4)
    for thread in [first, *others]:
        thread.join(timeout=60)
    assert (batcher.questions, batcher.calls) == (5, 2)
    assert all(np.array_equal(results[t], reference[t]) for t in texts)


def test_a_question_alone_is_embedded_alone(reference: dict[str, np.ndarray]) -> None:
    batcher = QueryBatcher(E5Pool(size=1))
    for text in STRESS_TEXTS[:3]:
        assert np.array_equal(batcher.embed(text), reference[text])
    assert (batcher.questions, batcher.calls) == (3, 3)


def test_an_engine_error_reaches_every_question_of_the_batch_and_the_batcher_recovers(
        monkeypatch: pytest.MonkeyPatch, reference: dict[str, np.ndarray]) -> None:
    pool = E5Pool(size=1)
    batcher = QueryBatcher(pool)
    real_encode = pool.encode

    def failing(texts: list[str], **kwargs: object) -> np.ndarray:
        raise MemoryError("engine out of memory")

    monkeypatch.setattr(pool, "encode", failing)
    with ThreadPoolExecutor(max_workers=3) as executor:
        futures = [executor.submit(batcher.embed, text) for text in STRESS_TEXTS[:3]]
        errors = [f.exception(timeout=60) for f in futures]
    assert all(isinstance(e, MemoryError) for e in errors)
    monkeypatch.setattr(pool, "encode", real_encode)
    assert np.array_equal(batcher.embed(STRESS_TEXTS[0]), reference[STRESS_TEXTS[0]])


def test_many_threads_on_two_handles_get_the_vectors_of_a_serial_run(reference: dict[str, np.ndarray]) -> None:
    """8 threads × 40 questions of every length and script: batches of mixed lengths must not mix up vectors."""
    batcher = QueryBatcher(E5Pool(size=2))

    def worker(seed: int) -> list[tuple[str, np.ndarray]]:
        return [(text, batcher.embed(text)) for text in random.Random(seed).choices(STRESS_TEXTS, k=40)]

    with ThreadPoolExecutor(max_workers=8) as executor:
        results = [pair for batch in executor.map(worker, range(8)) for pair in batch]
    assert len(results) == 320 and batcher.questions == 320
    assert [text for text, vector in results if not np.array_equal(vector, reference[text])] == []


def test_a_question_at_a_quiet_moment_uses_every_core_and_one_among_others_a_single_core(
        monkeypatch: pytest.MonkeyPatch, reference: dict[str, np.ndarray]) -> None:
    """An idle engine gives a lone question all its threads (the cores would idle otherwise); a question that
    comes while another batch runs gets one thread, so that two batches never split two cores into two teams.
    The vectors are the same either way."""
    pool = E5Pool(size=2)
    batcher = QueryBatcher(pool, lone_threads=2)
    real_encode = pool.encode
    threads_of: dict[str, int] = {}
    first_running, release_first = threading.Event(), threading.Event()
    first, second = STRESS_TEXTS[:2]

    def spying(texts: list[str], **kwargs: int) -> np.ndarray:
        threads_of[texts[0]] = kwargs["threads"]
        if texts[0] == first:
            first_running.set()
            assert release_first.wait(60)
        return real_encode(texts, **kwargs)

    monkeypatch.setattr(pool, "encode", spying)
    results: dict[str, np.ndarray] = {}
    thread = threading.Thread(target=lambda: results.__setitem__(first, batcher.embed(first)))
    thread.start()
    assert first_running.wait(60)
    results[second] = batcher.embed(second)  # the other handle is free, but a batch is running
    release_first.set()
    thread.join(timeout=60)
    assert threads_of == {first: 2, second: 1}
    assert batcher.lone_calls == 1
    assert all(np.array_equal(results[t], reference[t]) for t in (first, second))
    results[second] = batcher.embed(second)  # alone again
    assert threads_of[second] == 2 and np.array_equal(results[second], reference[second])


def test_max_batch_and_lone_threads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        QueryBatcher(E5Pool(size=1), max_batch=0)
    with pytest.raises(ValueError, match="lone_threads"):
        QueryBatcher(E5Pool(size=1), lone_threads=0)
