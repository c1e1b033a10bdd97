"""Rule factories for the primitives that have several names: ``os`` and its native twins, ``pathlib``.

``os.fsync`` and ``posix.fsync`` (``nt.fsync`` on Windows) are one C function
reachable by two names; a patch replaces one name. Each os primitive caught by
a patch therefore has a twin rule for ``posix`` (and ``nt``, for the rules whose
probes hold on Windows: a file, a descriptor, a path); audit rules see both
names (and bound ones) anyway.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from blockgate.rules.model import POSIX_SYSTEMS, Patch, Probe, Scene
from blockgate.rules.scenes import lookup


def os_patches(
    area: str,
    name: str,
    reason: str,
    args: Callable[[Scene], tuple[Any, ...]],
    *,
    prepare: Callable[[Scene], object] | None = None,
    run: Callable[[Callable[[], Any]], Any] = lambda call: call(),
    os_too: bool = True,
    windows: bool = False,
    passes_with: tuple[Callable[[Scene], tuple[Any, ...]], Callable[[Scene], None] | None] | None = None,
    **kw: Any,
) -> list[Patch]:
    """The ``os.<name>`` rule (unless blockbuster's defaults patch it) and its ``posix.<name>`` twin;
    with ``windows``, the rule holds on Windows too, and ``nt.<name>`` is the twin there.

    Each probe calls through its rule's own name; ``passes_with`` gives the
    arguments (and preparation) of the non-blocking form, for the must-pass probe.
    """
    rules = []
    platform = kw.pop("platform_has_it", hasattr(os, name))
    natives = {"posix": POSIX_SYSTEMS, **({"nt": ("win32",)} if windows else {})}
    names = {**({"os": None if windows else POSIX_SYSTEMS} if os_too else {}), **natives}
    for module, systems in names.items():
        dotted = f"{module}.{name}"

        def call(scene: Scene, dotted: str = dotted) -> Any:
            return run(lambda: lookup(dotted)(*args(scene)))

        call.__name__ = f"call_{module}_{name}"
        passes = None
        if passes_with is not None:

            def call_nonblocking(scene: Scene, dotted: str = dotted, pass_args: Any = passes_with[0]) -> Any:
                return run(lambda: lookup(dotted)(*pass_args(scene)))

            passes = Probe(call_nonblocking, passes_with[1])
        rules.append(
            Patch(
                area,
                dotted,
                reason if module == "os" else f"{reason} (the {module} name of os.{name})",
                fires=Probe(call, prepare),
                passes=passes,
                platform_has_it=platform,
                systems=systems,
                **kw,
            )
        )
    return rules


def path_patch(area: str, method: str, reason: str, call: Callable[[Scene], Any], **kw: Any) -> Patch:
    return Patch(area, f"pathlib.Path.{method}", reason, fires=Probe(call, kw.pop("prepare", None)), **kw)
