"""Dependencies shared by the routes: settings, the served pipelines, the pipeline runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.errors import PipelineTimeoutError
from pipelines.serving import Served, ServingState
from pipelines.settings import Settings

T = TypeVar("T")


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_serving(request: Request) -> ServingState:
    """The serving state (pipelines of the served build)."""
    return request.app.state.serving


async def get_served(serving: Annotated[ServingState, Depends(get_serving)]) -> Served:
    """The pipelines of the served build (503 before the first ingest or while Qdrant is unreachable)."""
    return await run_in_threadpool(serving.current)


class PipelineRunner:
    """Runs blocking pipeline work in the thread pool, at most ``concurrency`` at once, each within a timeout.

    The bound keeps one slow question from starving the others; a run that exceeds the timeout answers 503
    (its thread finishes in the background, and its slot is released only then).
    """

    def __init__(self, concurrency: int, timeout_s: float) -> None:
        self.semaphore = asyncio.Semaphore(concurrency)
        self.timeout_s = timeout_s

    async def __call__(self, func: Callable[..., T], *args: Any) -> T:
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        try:
            await asyncio.wait_for(self.semaphore.acquire(), timeout=self.timeout_s)
        except TimeoutError as exc:
            raise PipelineTimeoutError("waited too long for a free slot") from exc
        task = asyncio.ensure_future(run_in_threadpool(func, *args))
        task.add_done_callback(lambda _: self.semaphore.release())
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=remaining)
        except TimeoutError as exc:
            raise PipelineTimeoutError("pipeline run timed out") from exc


def get_runner(request: Request) -> PipelineRunner:
    """The app's pipeline runner."""
    return request.app.state.runner


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServedDep = Annotated[Served, Depends(get_served)]
ServingDep = Annotated[ServingState, Depends(get_serving)]
RunnerDep = Annotated[PipelineRunner, Depends(get_runner)]
