"""The embedding floor that ``wegweiser bench`` states its figures against."""

from __future__ import annotations

import pytest

from eval.embedding_floor import floor_ratios, measure_floor


def test_the_floor_is_the_faster_median_and_the_limit_follows_from_cpu_time() -> None:
    floor = measure_floor(["Wo melde ich meine Wohnung an?", "Где получить помощь переводчика?", "Kita"],
                          rounds=2)
    assert floor["latency_ms"] == min(floor["median_ms_by_threads"].values())
    assert "1" in floor["median_ms_by_threads"]
    assert floor["cpu_ms"] > 0 and floor["cores"] >= 1
    assert floor["limit_per_s"] == pytest.approx(floor["cores"] / (floor["cpu_ms"] / 1000), rel=0.01)
    with pytest.raises(ValueError):
        measure_floor([])


def test_ratios_express_a_target_in_floors() -> None:
    floor = {"latency_ms": 20.0, "limit_per_s": 100.0}
    target = {"latency_ms": {"median": 30.0, "p99": 75.0}, "requests_per_s": 80.0}
    assert floor_ratios(target, floor) == {"p50_over_floor": 1.5, "p99_over_p50": 2.5,
                                           "throughput_over_limit": 0.8}
    empty = {"latency_ms": {"median": None, "p99": None}, "requests_per_s": None}
    assert set(floor_ratios(empty, floor).values()) == {None}
