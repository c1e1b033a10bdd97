"""A default executor whose workers a test holds busy, so that an offload's job waits in its queue."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor


class BusyWorkers:
    """The running loop's default executor, of ``count`` threads, which ``hold`` keeps busy.

    ``asyncio.to_thread`` queues its job behind the held workers (the queue is
    first in, first out), so the job is known to wait until ``release``.
    ``close`` joins the threads without blocking the loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.loop, self.count = loop, count
        self.executor = ThreadPoolExecutor(count, thread_name_prefix="busy-worker")
        loop.set_default_executor(self.executor)
        self.released = threading.Event()
        self.held: list[asyncio.Future[bool]] = []

    def hold(self) -> None:
        self.released.clear()
        self.held += [self.loop.run_in_executor(None, self.released.wait, 30) for _ in range(self.count)]

    async def release(self) -> None:
        self.released.set()
        assert all(await asyncio.wait_for(asyncio.gather(*self.held), 30)), "a held worker timed out"
        self.held.clear()

    async def close(self) -> None:
        """Release the workers and join them; the loop gets a default executor of the usual size again."""
        self.released.set()
        self.loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="after-busy-workers"))
        await asyncio.to_thread(self.executor.shutdown, True)


async def until(condition, what: str) -> None:
    """Let the loop run until ``condition()``; fail loudly after about 10 s."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"never happened: {what}")
