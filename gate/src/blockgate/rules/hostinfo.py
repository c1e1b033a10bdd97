"""The host's identity: ``uuid``'s node (the MAC address) and time-based UUIDs.

``uuid.getnode()`` finds the MAC address once per process, from C (libuuid),
a socket ioctl, files under ``/sys`` or an ``ip``/``ifconfig`` subprocess, and
caches it in ``uuid._node``: the C paths raise no audit event, and only the
first call blocks (the gate resets the cache before each gate test:
``blockgate.lazy``). ``uuid.uuid1()`` asks libuuid for a time-based UUID,
which may talk to the ``uuidd`` daemon over a socket or lock its clock file,
again from C; with a ``node`` given it neither asks libuuid nor looks the node up.
"""

from __future__ import annotations

import uuid
from typing import Any

from blockgate.rules.model import Audit, Patch, Probe, Scene
from blockgate.rules.scenes import lookup


def _node_known(*_: Any, **__: Any) -> bool:
    return getattr(uuid, "_node", None) is not None


def _forget_node(scene: Scene) -> None:
    saved = uuid._node  # type: ignore[attr-defined]
    uuid._node = None  # type: ignore[attr-defined]

    def restore() -> None:
        uuid._node = saved  # type: ignore[attr-defined]

    scene.cleanups.append(restore)


def _cached_node(scene: Scene) -> Any:
    # The gate empties uuid's cache when it arms (blockgate.lazy): a node found earlier in the
    # same gated test is what a cached call sees. Put one there, then ask.
    uuid._node = 0x0242AC110002  # type: ignore[attr-defined]
    return lookup("uuid.getnode")()


def _node_given(*args: Any, **kwargs: Any) -> bool:
    return (args[0] if args else kwargs.get("node")) is not None


RULES: tuple[Patch | Audit, ...] = (
    Patch(
        "network",
        "uuid.getnode",
        "finds the MAC address: libuuid, a socket ioctl, /sys files or an ip subprocess, from C on the first call",
        fires=Probe(lambda s: lookup("uuid.getnode")(), _forget_node),
        nonblocking_if=_node_known,
        passes=Probe(_cached_node, _forget_node),
    ),
    Patch(
        "network",
        "uuid.uuid1",
        "asks libuuid, which may talk to the uuidd daemon over a socket or lock its clock file, from C",
        fires=Probe(lambda s: lookup("uuid.uuid1")()),
        nonblocking_if=_node_given,
        passes=Probe(lambda s: lookup("uuid.uuid1")(0x1234)),
    ),
)
