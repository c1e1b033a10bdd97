"""Waits on threads, futures, queues, locks, conditions and events.

A wait for another thread blocks the loop for as long as that thread takes.
The forms that return at once pass: a non-blocking acquire, a finished
thread, a set event, a done future, a queue with room or an item.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from blockgate.rules.model import Audit, Patch, Probe, Scene
from blockgate.rules.scenes import ignoring


def _nonblocking_acquire(_obj: Any, blocking: bool = True, timeout: float | None = None, **__: Any) -> bool:
    return not blocking or timeout == 0


def _thread_not_alive(thread: Any, *_: Any, **__: Any) -> bool:
    return not thread.is_alive()


def _event_is_set(event: Any, timeout: float | None = None, **__: Any) -> bool:
    return event.is_set() or timeout == 0


def _future_done(future: Any, timeout: float | None = None, **__: Any) -> bool:
    return future.done() or timeout == 0


def _queue_get_ready(q: Any, block: bool = True, timeout: float | None = None, **__: Any) -> bool:
    return bool(not block or timeout == 0 or q.qsize() > 0)


def _queue_put_ready(q: Any, _item: Any, block: bool = True, timeout: float | None = None, **__: Any) -> bool:
    return bool(not block or timeout == 0 or q.maxsize <= 0 or q.qsize() < q.maxsize)


def _no_unfinished_tasks(q: Any, *_: Any, **__: Any) -> bool:
    return bool(q.unfinished_tasks == 0)


def _signalled_thread(scene: Scene, body: Callable[[threading.Event], Any]) -> threading.Event:
    """A daemon thread running ``body(signal)``, started here (off the loop); at cleanup the
    signal is set and the thread joined."""
    signal = threading.Event()
    thread = threading.Thread(target=body, args=(signal,), daemon=True)
    thread.start()
    scene.extra["thread"] = thread

    def finish() -> None:
        signal.set()
        thread.join()

    scene.cleanups.append(finish)
    return signal


def _alive_thread(scene: Scene) -> None:
    _signalled_thread(scene, lambda stop: stop.wait())


def _finished_thread(scene: Scene) -> None:
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    scene.extra["thread"] = thread


def _full_queue(scene: Scene) -> None:
    q: queue.Queue[int] = queue.Queue(maxsize=1)
    q.put(1)
    scene.extra["queue"] = q


def _queue_with_item(scene: Scene) -> None:
    q: queue.Queue[int] = queue.Queue()
    q.put(1)
    scene.extra["queue"] = q


def _countdown(scene: Scene, seconds: float, action: Callable[[], Any]) -> None:
    """Another thread that runs ``action`` ``seconds`` after the probe says go (``_started_then``),
    or at cleanup if it never did. The count starts right before the probe's wait, never when
    the scene is prepared: a loop slow to reach the probe after arming (a loaded machine) must
    not find the wait already over, and the rule rightly let it through. The thread is started
    here, off the loop: starting one waits on an event, which the probe on the loop must not."""

    def count(go: threading.Event) -> None:
        go.wait()
        time.sleep(seconds)
        action()

    scene.extra["go"] = _signalled_thread(scene, count)


def _started_then(scene: Scene, wait: Callable[[], Any]) -> Any:
    scene.extra["go"].set()
    return wait()


def _unfinished_queue(scene: Scene) -> None:
    """A queue whose one task a consumer thread marks done shortly after the probe starts."""
    q: queue.Queue[int] = queue.Queue()
    q.put(1)
    q.get()
    scene.extra["queue"] = q
    _countdown(scene, 0.1, q.task_done)


def _simple_queue_with_item(scene: Scene) -> None:
    q: queue.SimpleQueue[int] = queue.SimpleQueue()
    q.put(1)
    scene.extra["queue"] = q


def _done_future(scene: Scene) -> None:
    future: concurrent.futures.Future[int] = concurrent.futures.Future()
    future.set_result(1)
    scene.extra["future"] = future


def _set_event(scene: Scene) -> None:
    event = threading.Event()
    event.set()
    scene.extra["event"] = event


def _lock_held_briefly(scene: Scene) -> None:
    """A lock held until a moment after the probe starts: a wait on it ends (offloaded), a probe
    on the loop is stopped first."""
    lock = threading.Lock()
    lock.acquire()
    scene.extra["lock"] = lock
    _countdown(scene, 0.05, lock.release)


def _lock_free(lock: Any, *_: Any, **__: Any) -> bool:
    return not lock.locked()


def _enter(lock: Any) -> None:
    with lock:
        pass


def _condition_wait(condition: threading.Condition) -> None:
    with condition:
        condition.wait(0.001)


RULES: tuple[Patch | Audit, ...] = (
    # -- waits on threads, futures and queues ---------------------------------------
    Patch(
        "waits",
        "threading.Thread.join",
        "waits for another thread (on 3.13 through a C handle the Lock rule misses)",
        fires=Probe(lambda s: s.extra["thread"].join(0.001), _alive_thread),
        nonblocking_if=_thread_not_alive,
        passes=Probe(lambda s: s.extra["thread"].join(), _finished_thread),
    ),
    Patch(
        "waits",
        "threading.Event.wait",
        "waits for another thread to set the event",
        fires=Probe(lambda s: threading.Event().wait(0.001)),
        nonblocking_if=_event_is_set,
        passes=Probe(lambda s: s.extra["event"].wait(), _set_event),
        classifies=("concurrent.futures.as_completed",),
    ),
    Patch(
        "waits",
        "threading.Condition.wait",
        "waits for another thread to notify",
        fires=Probe(lambda s: _condition_wait(threading.Condition())),
        classifies=("threading.Condition.wait_for",),
    ),
    Patch(
        "waits",
        "threading.Semaphore.acquire",
        "waits for another thread to release",
        fires=Probe(lambda s: threading.Semaphore(1).acquire()),
        nonblocking_if=_nonblocking_acquire,
        passes=Probe(lambda s: threading.Semaphore(0).acquire(blocking=False)),
        classifies=("threading.BoundedSemaphore.acquire",),
    ),
    Patch(
        "waits",
        "_thread.LockType.__enter__",
        "`with lock:` waits for the thread that holds it, in C, past blockbuster's acquire rule",
        fires=Probe(lambda s: _started_then(s, lambda: _enter(s.extra["lock"])), _lock_held_briefly),
        nonblocking_if=_lock_free,
        passes=Probe(lambda s: _enter(threading.Lock())),
        runtime_only="a with statement calls no name the static half could resolve to the lock's __enter__",
    ),
    Patch(
        "waits",
        "threading.Semaphore.__enter__",
        "`with semaphore:` waits like acquire (the class binds __enter__ to acquire, past the acquire rule)",
        fires=Probe(lambda s: _enter(threading.Semaphore(1))),
        runtime_only=(
            "astroid does not follow the class-body alias __enter__ = acquire, so the static half "
            "cannot name this call; the gate catches it at run time"
        ),
    ),
    Patch(
        "waits",
        "threading.Barrier.wait",
        "waits for other threads to arrive",
        fires=Probe(lambda s: threading.Barrier(1).wait()),
    ),
    Patch(
        "waits",
        "concurrent.futures.Future.result",
        "waits for a worker to finish",
        fires=Probe(
            lambda s: ignoring(concurrent.futures.TimeoutError)(
                lambda: concurrent.futures.Future().result(0.001)
            )
        ),
        nonblocking_if=_future_done,
        passes=Probe(lambda s: s.extra["future"].result(), _done_future),
    ),
    Patch(
        "waits",
        "concurrent.futures.Future.exception",
        "waits for a worker to finish",
        fires=Probe(
            lambda s: ignoring(concurrent.futures.TimeoutError)(
                lambda: concurrent.futures.Future().exception(0.001)
            )
        ),
        nonblocking_if=_future_done,
        passes=Probe(lambda s: s.extra["future"].exception(), _done_future),
    ),
    Patch(
        "waits",
        "concurrent.futures.wait",
        "waits for workers to finish",
        fires=Probe(lambda s: concurrent.futures.wait([concurrent.futures.Future()], timeout=0.001)),
    ),
    Patch(
        "waits",
        "queue.Queue.get",
        "waits for a producer thread",
        fires=Probe(lambda s: ignoring(queue.Empty)(lambda: queue.Queue().get(timeout=0.001))),
        nonblocking_if=_queue_get_ready,
        passes=Probe(lambda s: s.extra["queue"].get_nowait(), _queue_with_item),
        classifies=("queue.LifoQueue.get", "queue.PriorityQueue.get"),
    ),
    Patch(
        "waits",
        "queue.Queue.put",
        "waits for a consumer thread when the queue is full",
        fires=Probe(
            lambda s: ignoring(queue.Full)(lambda: s.extra["queue"].put(2, timeout=0.001)), _full_queue
        ),
        nonblocking_if=_queue_put_ready,
        passes=Probe(lambda s: queue.Queue[int]().put(1)),
        classifies=("queue.LifoQueue.put", "queue.PriorityQueue.put"),
    ),
    Patch(
        "waits",
        "queue.Queue.join",
        "waits until consumers mark every item done",
        fires=Probe(lambda s: _started_then(s, s.extra["queue"].join), _unfinished_queue),
        nonblocking_if=_no_unfinished_tasks,
        passes=Probe(lambda s: queue.Queue().join()),
        classifies=("queue.LifoQueue.join", "queue.PriorityQueue.join"),
    ),
    Patch(
        "waits",
        "queue.SimpleQueue.get",
        "waits for a producer thread",
        fires=Probe(lambda s: ignoring(queue.Empty)(lambda: queue.SimpleQueue().get(timeout=0.001))),
        nonblocking_if=_queue_get_ready,
        passes=Probe(lambda s: s.extra["queue"].get(), _simple_queue_with_item),
    ),
)
