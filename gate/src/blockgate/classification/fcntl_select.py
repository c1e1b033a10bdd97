"""``fcntl``, ``select`` and ``selectors``: locks and waits on descriptors."""

from __future__ import annotations

from blockgate.classification.engine import NOW, RECORD, Entry, blind, fine

_FCNTL_SELECT = (
    fine("fcntl.ioctl", "driver requests on a descriptor answer at once (terminals, sockets)"),
    fine(
        "select.poll",
        "creates a poll object; its poll() method has no importable type to patch (see blind spots)",
    ),
    blind(
        "select.poll*",
        "a poll object's poll(): its type has no importable name, so no rule can patch it (selectors.PollSelector.select is caught)",
    ),
    fine("select.epoll", "creates an epoll object"),
    *(
        fine(f"select.epoll.{m}", NOW)
        for m in ("close", "fileno", "fromfd", "modify", "register", "unregister")
    ),
    fine("selectors.SelectorKey", RECORD),
    fine("selectors.*Selector", "creates a selector"),
    *(
        fine(f"selectors.*Selector.{m}", "bookkeeping in memory (and epoll_ctl): no wait")
        for m in ("close", "fileno", "get_key", "get_map", "modify", "register", "unregister")
    ),
    fine("selectors.BaseSelector.select", "abstract: the concrete selectors' select is classified"),
)


ENTRIES: tuple[Entry, ...] = (*_FCNTL_SELECT,)
