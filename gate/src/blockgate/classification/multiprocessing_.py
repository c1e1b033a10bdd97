"""``multiprocessing``: waits on other processes and their connections."""

from __future__ import annotations

from blockgate.classification.engine import MAKES, NOT_BLOCKING, NOW, RULE, Entry, blind, each, fine, rule

_MULTIPROCESSING = (
    *(
        fine(f"multiprocessing.{n}", MAKES)
        for n in (
            "Array",
            "Barrier",
            "BoundedSemaphore",
            "Condition",
            "Event",
            "JoinableQueue",
            "Lock",
            "Pipe",
            "Process",
            "Queue",
            "RLock",
            "RawArray",
            "RawValue",
            "Semaphore",
            "SimpleQueue",
            "Value",
        )
    ),
    rule("multiprocessing.Manager", "multiprocessing.connection.Connection.recv"),
    fine("multiprocessing.Pool", "forks the workers and starts its handler threads: no wait"),
    *(
        fine(f"multiprocessing.{n}", "reads or sets process-wide settings")
        for n in (
            "allow_connection_pickling",
            "cpu_count",
            "current_process",
            "freeze_support",
            "get_all_start_methods",
            "get_context",
            "get_logger",
            "get_start_method",
            "log_to_stderr",
            "parent_process",
            "set_executable",
            "set_forkserver_preload",
            "set_start_method",
        )
    ),
    fine("multiprocessing.active_children", "polls each child with WNOHANG: returns at once"),
    *(
        fine(f"multiprocessing.Process.{m}", "signals or inspects the child (WNOHANG)")
        for m in ("close", "is_alive", "kill", "terminate")
    ),
    fine("multiprocessing.Process.start", "forks (or spawns) the child without waiting for it"),
    fine("multiprocessing.Process.run", "runs the target in the caller: classified on its own"),
    rule("multiprocessing.Process.join", "os.waitpid + multiprocessing.connection.wait"),
    rule(
        "multiprocessing.connection.Client",
        "audit:socket.connect + multiprocessing.connection.Connection.recv_bytes",
    ),
    fine("multiprocessing.connection.Listener", "binds and listens: no wait"),
    fine("multiprocessing.connection.Listener.close", NOW),
    fine("multiprocessing.connection.Pipe", "creates a pipe or socket pair"),
    fine("multiprocessing.pool.*Pool", "starts workers and handler threads: no wait"),
    *each(
        NOT_BLOCKING,
        "queues work and returns a result object",
        ("multiprocessing.pool.Pool", "multiprocessing.pool.ThreadPool"),
        ("apply_async", "map_async", "starmap_async", "imap", "imap_unordered", "close", "Process"),
    ),
    *each(
        RULE,
        "threading.Event.wait",
        ("multiprocessing.pool.Pool", "multiprocessing.pool.ThreadPool"),
        ("apply", "map", "starmap"),
    ),
    *each(
        RULE,
        "threading.Thread.join",
        ("multiprocessing.pool.Pool", "multiprocessing.pool.ThreadPool"),
        ("join", "terminate"),
    ),
    *(
        fine(f"multiprocessing.synchronize.{c}", MAKES)
        for c in ("BoundedSemaphore", "Condition", "Event", "Lock", "RLock", "Semaphore")
    ),
    *(fine(f"multiprocessing.synchronize.{c}.get_value", NOW) for c in ("BoundedSemaphore", "Semaphore")),
    *(
        fine(f"multiprocessing.synchronize.{m}", "releases a semaphore: never waits")
        for m in ("Condition.notify", "Condition.notify_all", "Event.clear", "Event.set")
    ),
    fine("multiprocessing.synchronize.Event.is_set", "tries the semaphore without blocking"),
    *(
        blind(
            f"multiprocessing.synchronize.{m}",
            "waits on the C semaphore's acquire, which each lock binds when it is made: a patch misses every lock made before it",
        )
        for m in ("Condition.wait", "Condition.wait_for", "Event.wait")
    ),
)


ENTRIES: tuple[Entry, ...] = (*_MULTIPROCESSING,)
