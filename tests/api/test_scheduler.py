"""The pipeline runner shares its slots fairly: one client's pile of questions does not hold up another asker,
a client gets only its share admitted, and work for a client that hung up or timed out is never started."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from api.deps import PipelineRunner
from api.errors import PipelineTimeoutError
from api.scheduler import ClientBusyError, ClientGoneError, FairScheduler


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


class Work:
    """Blocking work that records the order in which it started; each run holds its thread until released."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = threading.Event()

    def __call__(self, name: str) -> str:
        self.started.append(name)
        self.release.wait(timeout=5)
        return name


async def until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def test_an_occasional_asker_is_served_before_the_rest_of_a_busy_clients_pile() -> None:
    async def scenario() -> list[str]:
        runner = PipelineRunner(concurrency=1, timeout_s=10, per_client=4)
        work = Work()
        first = asyncio.create_task(runner("heavy", work, "heavy-1"))
        await until(lambda: work.started == ["heavy-1"])
        pile = [asyncio.create_task(runner("heavy", work, f"heavy-{i}")) for i in (2, 3, 4)]
        await asyncio.sleep(0.01)
        asker = asyncio.create_task(runner("asker", work, "asker-1"))  # arrives last
        await asyncio.sleep(0.01)
        work.release.set()
        await asyncio.gather(first, *pile, asker)
        return work.started

    started = run(scenario())
    # First come, first served would start the asker last (after heavy-4); it has used nothing yet, so it is next.
    assert started == ["heavy-1", "asker-1", "heavy-2", "heavy-3", "heavy-4"]


def test_a_client_gets_only_its_share_admitted_and_is_told_to_wait() -> None:
    async def scenario() -> tuple[int, str]:
        runner = PipelineRunner(concurrency=4, timeout_s=10, per_client=2)
        work = Work()
        admitted = [asyncio.create_task(runner("heavy", work, f"heavy-{i}")) for i in (1, 2)]
        await until(lambda: len(work.started) == 2)
        with pytest.raises(ClientBusyError):
            await runner("heavy", work, "heavy-3")
        neighbour = asyncio.create_task(runner("asker", work, "asker-1"))  # other clients are not affected
        work.release.set()
        results = await asyncio.gather(*admitted, neighbour)
        again = await runner("heavy", work, "heavy-4")  # once answered, the client may ask again
        return len(results), again

    assert run(scenario()) == (3, "heavy-4")


def test_work_for_a_client_who_hung_up_while_waiting_is_never_started() -> None:
    async def scenario() -> tuple[list[str], int, int]:
        runner = PipelineRunner(concurrency=1, timeout_s=10, per_client=4)
        work = Work()
        running = asyncio.create_task(runner("a", work, "a-1"))
        await until(lambda: work.started == ["a-1"])
        gone = asyncio.Event()
        dropped = asyncio.create_task(runner("b", work, "b-1", gone=gone))
        waiting = asyncio.create_task(runner("c", work, "c-1"))
        await asyncio.sleep(0.01)
        gone.set()  # b hangs up while waiting for a slot
        with pytest.raises(ClientGoneError):
            await dropped
        work.release.set()
        await asyncio.gather(running, waiting)
        await until(lambda: runner.scheduler.running == 0)
        return work.started, runner.scheduler.running, runner.scheduler.waiting

    started, running, waiting = run(scenario())
    assert started == ["a-1", "c-1"]
    assert (running, waiting) == (0, 0)  # no slot lost to the dropped request


def test_a_request_that_timed_out_waiting_is_not_started_later() -> None:
    async def scenario() -> list[str]:
        runner = PipelineRunner(concurrency=1, timeout_s=0.2, per_client=4)
        work = Work()
        running = asyncio.create_task(runner("a", work, "a-1"))
        await until(lambda: work.started == ["a-1"])
        with pytest.raises(PipelineTimeoutError):
            await runner("b", work, "b-1")
        with pytest.raises(PipelineTimeoutError):
            await running  # a-1 itself ran longer than the timeout: its asker got a 503 ...
        work.release.set()
        await until(lambda: runner.scheduler.running == 0)  # ... and its slot was freed when the thread ended
        await runner("c", work, "c-1")
        return work.started

    assert run(scenario()) == ["a-1", "c-1"]


def test_the_client_that_used_least_recently_gets_the_next_slot() -> None:
    async def scenario() -> list[str]:
        scheduler = FairScheduler(concurrency=1, per_client=4)
        scheduler.record("busy", seconds=2.0)
        scheduler.record("light", seconds=0.1)
        await scheduler.acquire("holder", timeout=1)
        order: list[str] = []

        async def wait(client: str) -> None:
            await scheduler.acquire(client, timeout=5)
            order.append(client)
            scheduler.release()

        waiters = [asyncio.create_task(wait(name)) for name in ("busy", "light", "new")]
        await asyncio.sleep(0.01)
        scheduler.release()
        await asyncio.gather(*waiters)
        return order

    assert run(scenario()) == ["new", "light", "busy"]


def test_use_is_forgotten_with_the_half_life() -> None:
    scheduler = FairScheduler(concurrency=1, per_client=1, half_life_s=10.0, max_clients=2)
    scheduler.record("a", seconds=4.0)
    now = scheduler._usage["a"][1]
    assert scheduler.usage("a", now + 10.0) == pytest.approx(2.0)
    scheduler.record("b", 1.0)
    scheduler.record("c", 1.0)  # beyond max_clients: the least recently seen is forgotten
    assert scheduler.usage("a") == 0.0 and scheduler.usage("c") > 0


def test_scheduler_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        FairScheduler(concurrency=0, per_client=1)
    with pytest.raises(ValueError):
        FairScheduler(concurrency=1, per_client=0)
