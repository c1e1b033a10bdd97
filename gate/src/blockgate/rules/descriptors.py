"""Waits on descriptors: ``select``, ``poll``, ``epoll``, ``kqueue``, ``selectors`` and event fds.

A zero timeout returns at once and passes. The event loop's own wait
(``_run_once``) is the one blocking call a loop must make: exempt.
"""

from __future__ import annotations

import select
import selectors
from collections.abc import Callable
from typing import Any

from blockgate.rules.forms import zero_timeout
from blockgate.rules.model import LINUX_ONLY, POSIX_SYSTEMS, Audit, Patch, Probe, Scene, caller
from blockgate.rules.scenes import lookup, socket_pair

# The event loop's own wait for IO: the one blocking call a loop must make.
_LOOP_WAIT = (caller("asyncio/base_events.py", "_run_once"),)


def _select_nonblocking(_r: Any, _w: Any, _x: Any, timeout: float | None = None) -> bool:
    return zero_timeout(timeout)


def _poll_nonblocking(_poller: Any, timeout: float | None = -1, *_: Any, **__: Any) -> bool:
    return timeout is not None and timeout == 0


def _kqueue_nonblocking(_kq: Any, _changes: Any, max_events: int = 0, timeout: float | None = None) -> bool:
    return max_events == 0 or zero_timeout(timeout)  # max_events 0: only registers changes


def _selector_nonblocking(_selector: Any, timeout: float | None = None) -> bool:
    return zero_timeout(timeout)


def _epoll(scene: Scene) -> None:
    import select

    ep = select.epoll()
    scene.keep("poller", ep, ep.close)


def _ready_socket(scene: Scene) -> None:
    socket_pair(scene, blocking=True)  # the peer has sent: readable at once


def _kqueue(scene: Scene) -> None:
    kq = select.kqueue()  # type: ignore[attr-defined,unused-ignore]  # macOS: mypy reads the Linux stubs
    scene.keep("poller", kq, kq.close)


def _selector(kind: str) -> Callable[[Scene], None]:
    def prepare(scene: Scene) -> None:
        import selectors

        sel = getattr(selectors, kind)()
        scene.keep("selector", sel, sel.close)
        _ready_socket(scene)  # a socket: SelectSelector on Windows takes nothing else
        sel.register(scene.extra["mine"], selectors.EVENT_READ)

    return prepare


RULES: tuple[Patch | Audit, ...] = (
    # -- waits on descriptors -------------------------------------------------------
    Patch(
        "descriptors",
        "select.select",
        "waits until a descriptor is ready or the timeout passes",
        # a socket: Windows' select waits on sockets only
        fires=Probe(lambda s: lookup("select.select")([s.extra["mine"]], [], [], 0.5), _ready_socket),
        nonblocking_if=_select_nonblocking,
        passes=Probe(lambda s: lookup("select.select")([s.extra["mine"]], [], [], 0), _ready_socket),
        exempt_callers=_LOOP_WAIT,  # a selector event loop on Windows waits through select.select
    ),
    Patch(
        "descriptors",
        "select.epoll.poll",
        "waits until a registered descriptor is ready",
        fires=Probe(lambda s: s.extra["poller"].poll(0.001), _epoll),
        nonblocking_if=_poll_nonblocking,
        passes=Probe(lambda s: s.extra["poller"].poll(0), _epoll),
        exempt_callers=_LOOP_WAIT,
        systems=LINUX_ONLY,
    ),
    Patch(
        "descriptors",
        "select.kqueue.control",
        "with events to return, waits until one fires or the timeout passes (macOS, BSD)",
        fires=Probe(lambda s: s.extra["poller"].control(None, 1, 0.001), _kqueue),
        nonblocking_if=_kqueue_nonblocking,
        passes=Probe(lambda s: s.extra["poller"].control(None, 1, 0), _kqueue),
        exempt_callers=_LOOP_WAIT,
        # where kqueue exists (macOS, the BSDs): its probe runs there, never on Linux
        platform_has_it=hasattr(select, "kqueue"),
    ),
    *(
        Patch(
            "descriptors",
            f"selectors.{kind}.select",
            "waits until a registered descriptor is ready",
            fires=Probe(lambda s: s.extra["selector"].select(0.5), _selector(kind)),
            nonblocking_if=_selector_nonblocking,
            passes=Probe(lambda s: s.extra["selector"].select(0), _selector(kind)),
            exempt_callers=_LOOP_WAIT,
            systems=systems,
            platform_has_it=hasattr(selectors, kind),
        )
        # selectors.DefaultSelector is one of these classes (the classification says which, per system)
        for kind, systems in (
            ("SelectSelector", None),
            ("PollSelector", POSIX_SYSTEMS),
            ("EpollSelector", LINUX_ONLY),
            ("KqueueSelector", None),  # where kqueue exists: platform_has_it below
        )
    ),
)
