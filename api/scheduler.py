"""Fair shares of the pipeline for every client: a freed slot goes to the waiting client that used least.

A first-come-first-served queue lets one client that sends many questions (or many expensive ones) push every
other asker to the back. Here each client waits in its own line, and a freed slot goes to the client whose
recent use of the pipeline (run time, decaying with a half-life of ``half_life_s``) is smallest — fair
queueing by cost, not by turns: twelve clients that each keep a question running do not make a person who asks
now and then wait behind all twelve, only until the next slot frees. A client may have only ``per_client``
requests admitted at a time (waiting or running); more are refused at once (cheap), and work whose asker has
hung up or timed out is never started.

Usage:
```python
scheduler = FairScheduler(concurrency=2, per_client=2)
scheduler.admit("127.0.0.1")                        # ClientBusyError: this client has enough in the works
await scheduler.acquire("127.0.0.1", timeout=10.0)  # TimeoutError, or ClientGoneError with ``gone=``
...                                                 # the work
scheduler.record("127.0.0.1", seconds=0.05)         # what the work cost this client
scheduler.release()                                 # the slot goes to the waiting client that used least
scheduler.leave("127.0.0.1")
```
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable


class ClientBusyError(RuntimeError):
    """The client already has as many requests admitted as it may."""


class ClientGoneError(ConnectionError):
    """The client hung up before its work started."""


class FairScheduler:
    """Hands ``concurrency`` slots to the waiting client with the least recent use; never FIFO across clients.

    Not thread-safe: use it from one event loop.
    """

    def __init__(self, concurrency: int, per_client: int, half_life_s: float = 10.0,
                 max_clients: int = 10_000) -> None:
        """
        :param concurrency: work items that may run at once.
        :param per_client: requests one client may have admitted (waiting or running) at once.
        :param half_life_s: how fast a client's recorded use is forgotten.
        :param max_clients: clients whose use is remembered (the least recently seen are forgotten first).
        :raises ValueError: for a bound below 1.
        """
        if concurrency < 1 or per_client < 1:
            raise ValueError("concurrency and per_client must be at least 1")
        self.concurrency = concurrency
        self.per_client = per_client
        self.half_life_s = half_life_s
        self.max_clients = max_clients
        self._running = 0
        self._lines: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self._admitted: dict[str, int] = {}
        self._usage: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (seconds, as of)

    def usage(self, client: str, now: float | None = None) -> float:
        """The client's recorded run time in seconds, decayed to ``now``."""
        seconds, stamp = self._usage.get(client, (0.0, 0.0))
        now = time.monotonic() if now is None else now
        return seconds * 0.5 ** ((now - stamp) / self.half_life_s) if seconds else 0.0

    def record(self, client: str, seconds: float) -> None:
        """Add ``seconds`` of run time to the client's use."""
        now = time.monotonic()
        self._usage[client] = (self.usage(client, now) + seconds, now)
        self._usage.move_to_end(client)
        while len(self._usage) > self.max_clients:
            self._usage.popitem(last=False)

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot."""
        return sum(1 for line in self._lines.values() for future in line if not future.done())

    @property
    def running(self) -> int:
        """Slots in use."""
        return self._running

    def admit(self, client: str) -> None:
        """Count one request of ``client`` (call :meth:`leave` when it is over, however it ends).

        :raises ClientBusyError: when the client already has ``per_client`` requests admitted.
        """
        admitted = self._admitted.get(client, 0)
        if admitted >= self.per_client:
            raise ClientBusyError(client)
        self._admitted[client] = admitted + 1

    def leave(self, client: str) -> None:
        """The end of a request counted by :meth:`admit`."""
        left = self._admitted.get(client, 0) - 1
        if left > 0:
            self._admitted[client] = left
        else:
            self._admitted.pop(client, None)

    async def acquire(self, client: str, timeout: float, gone: Callable[[], Awaitable[None]] | None = None) -> None:
        """Wait for a slot in ``client``'s line.

        :param timeout: seconds to wait at most.
        :param gone: an awaitable that completes when the client hangs up; waiting then stops.
        :raises TimeoutError: when no slot came in time.
        :raises ClientGoneError: when the client hung up while waiting.
        """
        if self._running < self.concurrency and not self.waiting:
            self._running += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lines.setdefault(client, deque()).append(turn)
        watcher = asyncio.ensure_future(gone()) if gone else None
        try:
            done, _ = await asyncio.wait({turn, *([watcher] if watcher else [])}, timeout=max(0.0, timeout),
                                         return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            self._give_up(turn)
            raise
        finally:
            if watcher:
                watcher.cancel()
        if turn in done:
            return
        self._give_up(turn)
        if watcher in done:
            raise ClientGoneError(client)
        raise TimeoutError("no free slot in time")

    def _give_up(self, turn: asyncio.Future[None]) -> None:
        if turn.done() and not turn.cancelled():
            self.release()  # the slot arrived just as the wait ended: pass it on
        else:
            turn.cancel()  # release() skips it

    def release(self) -> None:
        """Free a slot: it goes to the first waiting request of the waiting client that used least (the one
        that started waiting first among equals)."""
        now = time.monotonic()
        while self._lines:
            client = min(self._lines, key=lambda name: self.usage(name, now))  # min keeps the first of equals
            line = self._lines[client]
            turn = line.popleft()
            if not line:
                del self._lines[client]
            if not turn.done():
                turn.set_result(None)
                return
        self._running -= 1
