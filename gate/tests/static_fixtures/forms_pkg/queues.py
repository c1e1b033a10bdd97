"""Queues that cannot wait (unbounded, or asked not to), beside the forms that can."""

import queue
from queue import Empty, Queue


class Writer:
    def __init__(self) -> None:
        self._jobs = None
        self._bounded = queue.Queue(maxsize=8)

    async def submit(self, job: object):
        if self._jobs is None:
            self._jobs = queue.Queue()
        self._jobs.put(job)  # twin: every queue this attribute holds is unbounded
        self._bounded.put(job)  # blocking: queue.Queue.put
        self._bounded.put(job, block=False)  # twin: asked not to wait
        self._bounded.put(job, True, 0)  # twin: a zero timeout


class Inbox(Queue):
    async def poll(self):
        try:
            return self.get(block=False)  # twin: asked not to wait
        except Empty:
            return None

    async def next(self):
        first = self.get(False)  # twin: block=False, by position
        return first, self.get()  # blocking: queue.Queue.get


async def local_queues(items: list, inbox: Queue):
    pending = queue.LifoQueue(0)
    simple = queue.SimpleQueue()
    for item in items:
        pending.put(item)  # twin: maxsize 0 is unbounded
        simple.put(item)
    inbox.put(items)  # blocking: queue.Queue.put
    inbox.get(timeout=0)  # twin: a zero timeout returns or raises at once
    small = Queue(1)
    small.put(1)  # blocking: queue.Queue.put
    return simple.get(), small.get(timeout=5)  # blocking: queue.SimpleQueue.get, queue.Queue.get


class Jobs:
    def __init__(self) -> None:
        self.pending = queue.Queue()

    async def add(self, job: object):
        self.pending.put(job)  # blocking: queue.Queue.put


class BoundedJobs(Jobs):
    """A subclass bounds the queue its base's coroutine puts into."""

    def __init__(self) -> None:
        super().__init__()
        self.pending = queue.Queue(maxsize=1)


async def maybe_given(given: Queue, use_given: bool, size: int):
    mine = queue.Queue()
    if use_given:
        mine = given
    mine.put(1)  # blocking: queue.Queue.put
    sized = queue.Queue(size)
    sized.put(1)  # blocking: queue.Queue.put
    return mine
