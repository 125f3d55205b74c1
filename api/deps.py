"""Dependencies shared by the routes: settings, the served pipelines, the pipeline runner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.errors import PipelineTimeoutError
from api.feedback import OutcomeTally
from api.scheduler import ClientGoneError, FairScheduler
from pipelines.memory import HeapTrimmer
from pipelines.serving import Served, ServingState
from pipelines.settings import Settings

T = TypeVar("T")


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with (async: FastAPI runs a plain function in the thread pool, a thread
    hop per request for an attribute read)."""
    return request.app.state.settings


async def get_outcomes(request: Request) -> OutcomeTally:
    """The app's tally of question outcomes (counted in memory, written to the counters file every second)."""
    return request.app.state.outcomes


async def get_serving(request: Request) -> ServingState:
    """The serving state (pipelines of the served build)."""
    return request.app.state.serving


async def get_served(serving: Annotated[ServingState, Depends(get_serving)]) -> Served:
    """The pipelines of the served build (503 before the first ingest or while Qdrant is unreachable).

    Off the event loop only when the build is due to be checked again (a look at the store, or loading a new
    build); in between, the served pipelines are at hand.
    """
    return serving.fresh() or await run_in_threadpool(serving.current)


#: Seconds between looks at resident memory after runs (a /proc read each; see HeapTrimmer).
TRIM_CHECK_INTERVAL_S = 0.2


class PipelineRunner:
    """Runs blocking pipeline work in the thread pool: ``concurrency`` runs at once, shared fairly between
    clients by their recent run time (see :class:`api.scheduler.FairScheduler`), each request within a timeout.

    A request that times out answers 503; its thread finishes in the background and keeps its slot until then.
    Work for a client that hung up while it waited is never started. After a run, its thread gives free heap
    pages back once the process has grown by ``trim_threshold_bytes`` (see :class:`pipelines.memory.HeapTrimmer`; it
    looks at most every :data:`TRIM_CHECK_INTERVAL_S`).
    """

    def __init__(self, concurrency: int, timeout_s: float, per_client: int,
                 trim_threshold_bytes: int = 16_000_000) -> None:
        self.scheduler = FairScheduler(concurrency, per_client)
        self.timeout_s = timeout_s
        self.trimmer = HeapTrimmer(trim_threshold_bytes, min_interval_s=TRIM_CHECK_INTERVAL_S)

    def _run(self, func: Callable[..., T], *args: Any) -> T:
        try:
            return func(*args)
        finally:
            self.trimmer.maybe_trim()

    async def __call__(self, client: str, func: Callable[..., T], *args: Any,
                       gone: asyncio.Event | None = None) -> T:
        """Run ``func(*args)`` for ``client``.

        :param gone: set when the client hangs up.
        :raises ClientBusyError: when the client already has its share of requests admitted.
        :raises ClientGoneError: when the client hung up before the work started.
        :raises PipelineTimeoutError: when the wait and the run together exceed the timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        self.scheduler.admit(client)
        task: asyncio.Future[T] | None = None
        try:
            try:
                await self.scheduler.acquire(client, self.timeout_s, gone.wait if gone else None)
            except TimeoutError as exc:
                raise PipelineTimeoutError("waited too long for a free slot") from exc
            if gone is not None and gone.is_set():
                self.scheduler.release()
                raise ClientGoneError(client)
            started = loop.time()
            task = asyncio.ensure_future(run_in_threadpool(self._run, func, *args))
        finally:
            if task is None:
                self.scheduler.leave(client)

        def finished(_: asyncio.Future[T]) -> None:
            self.scheduler.record(client, loop.time() - started)
            self.scheduler.release()
            self.scheduler.leave(client)

        task.add_done_callback(finished)
        remaining = max(0.0, deadline - loop.time())
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=remaining)
        except TimeoutError as exc:
            raise PipelineTimeoutError("pipeline run timed out") from exc


class RequestRunner:
    """The pipeline runner bound to one request: its client and whether that client is still there."""

    def __init__(self, runner: PipelineRunner, client: str, gone: asyncio.Event) -> None:
        self.runner = runner
        self.client = client
        self.gone = gone

    async def __call__(self, func: Callable[..., T], *args: Any) -> T:
        return await self.runner(self.client, func, *args, gone=self.gone)


async def _listen_for_disconnect(request: Request, gone: asyncio.Event) -> None:
    # Called once the body has been read (FastAPI reads it before resolving dependencies): the server's next
    # message is the client's disconnect (uvicorn also sends it once the response is complete).
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


async def get_runner(request: Request) -> AsyncIterator[RequestRunner]:
    """The app's pipeline runner, bound to this request's client (its address as resolved by
    :class:`api.clients.ClientAddressMiddleware`)."""
    gone = asyncio.Event()
    listener = asyncio.ensure_future(_listen_for_disconnect(request, gone))
    try:
        yield RequestRunner(request.app.state.runner, request.client.host if request.client else "unknown", gone)
    finally:
        listener.cancel()


SettingsDep = Annotated[Settings, Depends(get_settings)]
OutcomesDep = Annotated[OutcomeTally, Depends(get_outcomes)]
ServedDep = Annotated[Served, Depends(get_served)]
ServingDep = Annotated[ServingState, Depends(get_serving)]
RunnerDep = Annotated[RequestRunner, Depends(get_runner)]
