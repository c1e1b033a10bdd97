"""``threading``, ``queue`` and ``concurrent.futures``: waits on other threads."""

from __future__ import annotations

from blockgate.classification.engine import MAKES, NOT_BLOCKING, Entry, each, fine, rule

_THREADING = (
    *(
        fine(f"threading.{c}", MAKES)
        for c in (
            "Barrier",
            "BoundedSemaphore",
            "Condition",
            "Event",
            "RLock",
            "Semaphore",
            "Thread",
            "Timer",
            "local",
            "ExceptHookArgs",
            "Lock",
        )
    ),
    fine("threading.RLock", "creates a lock; its acquire is a blind spot (docs/blind-spots.md)"),
    *(
        fine(f"threading.{n}", "reads or sets interpreter state")
        for n in (
            "active_count",
            "current_thread",
            "enumerate",
            "get_ident",
            "get_native_id",
            "getprofile",
            "gettrace",
            "main_thread",
            "setprofile",
            "settrace",
            "stack_size",
            "excepthook",
        )
    ),
    *(
        fine(f"threading.{n}", "reads or sets interpreter state", since=(3, 12))
        for n in ("setprofile_all_threads", "settrace_all_threads")
    ),
    fine("threading.Barrier.abort", "takes the barrier's lock briefly and wakes the waiters"),
    fine("threading.Barrier.reset", "takes the barrier's lock briefly and wakes the waiters"),
    *(fine(f"threading.{c}.release", "releases: never waits") for c in ("Semaphore", "BoundedSemaphore")),
    *(
        fine(f"threading.Condition.{m}", "wakes waiters: never waits")
        for m in ("notify", "notifyAll", "notify_all")
    ),
    *(
        fine(f"threading.Event.{m}", "sets or reads a flag under a lock held for microseconds")
        for m in ("clear", "isSet", "is_set", "set")
    ),
    *(
        fine(f"threading.{c}.{m}", "reads or sets thread attributes")
        for c in ("Thread", "Timer")
        for m in ("getName", "setName", "isDaemon", "setDaemon", "is_alive")
    ),
    *(
        fine(f"threading.{c}.start", "starts the thread; the wait for it to begin is exempt (microseconds)")
        for c in ("Thread", "Timer")
    ),
    *(
        fine(
            f"threading.{c}.run",
            "runs the thread's target in the caller: what it does is classified on its own",
        )
        for c in ("Thread", "Timer")
    ),
    fine("threading.Timer.cancel", "sets an event"),
    rule("threading.Timer.join", "threading.Thread.join"),
    *(
        rule(f"threading.Lock.{m}", "blockbuster:threading.Lock.acquire", since=(3, 13))
        for m in ("acquire", "acquire_lock")
    ),
    *(
        fine(f"threading.Lock.{m}", "releases or reads a lock: never waits", since=(3, 13))
        for m in ("release", "release_lock", "locked", "locked_lock")
    ),
)


_QUEUE = (
    *(fine(f"queue.{c}", MAKES) for c in ("Queue", "LifoQueue", "PriorityQueue", "SimpleQueue")),
    *each(
        NOT_BLOCKING,
        "reads the size under a lock held for microseconds",
        ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "queue.SimpleQueue"),
        ("empty", "qsize"),
    ),
    *each(
        NOT_BLOCKING,
        "reads the size under a lock held for microseconds",
        ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue"),
        ("full",),
    ),
    *each(
        NOT_BLOCKING,
        "get(block=False) or put(block=False): never waits",
        ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "queue.SimpleQueue"),
        ("get_nowait", "put_nowait"),
    ),
    fine("queue.SimpleQueue.put", "an unbounded queue: never waits"),
    *each(
        NOT_BLOCKING,
        "marks a task done and wakes joiners",
        ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue"),
        ("task_done",),
    ),
    *each(
        NOT_BLOCKING,
        "marks the queue shut down and wakes waiters",
        ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue"),
        ("shutdown",),
        since=(3, 13),
    ),
    fine("queue.SimpleQueue.get_nowait", "get(False): never waits"),
)


_FUTURES = (
    fine("concurrent.futures.Future", MAKES),
    *(
        fine(
            f"concurrent.futures.Future.{m}",
            "reads or sets the future's state under a lock held for microseconds",
        )
        for m in (
            "add_done_callback",
            "cancel",
            "cancelled",
            "done",
            "running",
            "set_exception",
            "set_result",
            "set_running_or_notify_cancel",
        )
    ),
    fine("concurrent.futures.*Executor", "creates an executor (workers start on first submit)"),
    fine("concurrent.futures.Executor.submit", "abstract: raises NotImplementedError"),
    fine(
        "concurrent.futures.*Executor.submit", "queues the call (starting a worker is exempt: microseconds)"
    ),
    rule("concurrent.futures.*Executor.map", "concurrent.futures.Future.result"),
    rule("concurrent.futures.*Executor.shutdown", "threading.Thread.join"),
)


ENTRIES: tuple[Entry, ...] = (
    *_THREADING,
    *_QUEUE,
    *_FUTURES,
)
