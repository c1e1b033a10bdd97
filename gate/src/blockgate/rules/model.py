"""The two kinds of rule, and the probe that proves one.

* ``Patch``: replace a callable (a module function or a method, also on C
  types through forbiddenfruit) with a checker. Catches every call that looks
  the name up at call time.
* ``Audit``: a ``sys.addaudithook`` event. Raised by CPython itself, so it also
  catches callables bound before the gate was armed (``from os import
  listdir``) and C-level paths such as ``pathlib`` on 3.10.

A ``Probe(call, prepare)`` is one blocking call through a rule's primitive:
``prepare`` runs off the loop and builds what the call needs in a ``Scene``
(a file, a child process, a listener); ``call`` makes exactly one blocking
call. ``caller(file, *functions)`` names frames that may block (an exemption).
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Exemption = tuple[str, frozenset[str]]


# Declared systems (Patch.systems, Audit.systems): sys.platform prefixes.
POSIX_SYSTEMS = ("linux", "darwin")


LINUX_ONLY = ("linux",)


_names = itertools.count()


@dataclass
class Scene:
    """What a probe's ``prepare`` built (off the loop); ``cleanup`` undoes it after the probe."""

    tmp: Path
    file: Path = field(init=False)
    extra: dict[str, Any] = field(default_factory=dict)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.file = self.tmp / "data.txt"
        self.file.write_text("line one\nline two\n")

    def fresh(self, stem: str) -> Path:
        return self.tmp / f"{stem}-{next(_names)}"

    def keep(self, key: str, value: Any, undo: Callable[[], Any] | None = None) -> Any:
        self.extra[key] = value
        if undo is not None:
            self.cleanups.append(undo)
        return value

    def cleanup(self) -> None:
        for undo in reversed(self.cleanups):
            undo()


@dataclass(frozen=True)
class Probe:
    """One call through a primitive, made from this (scanned) module; what ``prepare`` returns is ignored."""

    call: Callable[[Scene], Any]
    prepare: Callable[[Scene], object] | None = None


@dataclass(frozen=True)
class Patch:
    """Wrap the callable at dotted path ``target`` (module path, then attributes)."""

    area: str
    target: str
    reason: str
    fires: Probe | None = None
    nonblocking_if: Callable[..., bool] | None = None  # given the call's arguments
    passes: Probe | None = None
    exempt_callers: tuple[Exemption, ...] = ()
    classifies: tuple[str, ...] = ()
    min_version: tuple[int, int] = (3, 10)
    platform_has_it: bool = True  # False where the OS lacks the primitive (os.fdatasync on macOS)
    # The systems (sys.platform prefixes) the rule is made for; None: every system. Elsewhere
    # it is not applicable, like a primitive the running system lacks.
    systems: tuple[str, ...] | None = None
    # Why the static inventory cannot see this rule's primitive in source, if it cannot:
    # a rule without a static counterpart fails the meta-test unless this says why.
    runtime_only: str = ""

    @property
    def name(self) -> str:
        return self.target

    @property
    def catches(self) -> tuple[str, ...]:
        """The public callables this rule catches, for the classification."""
        return (self.target, *self.classifies)

    def applies(self) -> bool:
        return self.platform_has_it and self.applies_on(sys.version_info[:2], sys.platform)

    def applies_on(self, version: tuple[int, int], system: str) -> bool:
        """Armed on ``system`` (a ``sys.platform``) with Python ``version``, where the primitive exists."""
        on_system = self.systems is None or any(system.startswith(s) for s in self.systems)
        return on_system and version >= self.min_version


@dataclass(frozen=True)
class Audit:
    """Fail when CPython raises the audit event ``event``."""

    area: str
    event: str
    reason: str
    fires: Probe | None = None
    nonblocking_if: Callable[[tuple[Any, ...]], bool] | None = None  # given the event's args
    passes: Probe | None = None
    exempt_callers: tuple[Exemption, ...] = ()
    classifies: tuple[str, ...] = ()
    min_version: tuple[int, int] = (3, 10)
    platform_has_it: bool = True  # False where the OS lacks the primitive (fcntl on Windows)
    systems: tuple[str, ...] | None = None  # as for Patch
    # The public callables that raise the event: what the static inventory
    # looks for in source, since an audit event has no name to call.
    raised_by: tuple[str, ...] = ()
    # Why the static inventory cannot see this rule's primitive in source, if it cannot.
    runtime_only: str = ""

    @property
    def name(self) -> str:
        return f"audit:{self.event}"

    @property
    def catches(self) -> tuple[str, ...]:
        return (*self.raised_by, *self.classifies)

    def applies(self) -> bool:
        return self.platform_has_it and self.applies_on(sys.version_info[:2], sys.platform)

    def applies_on(self, version: tuple[int, int], system: str) -> bool:
        """Armed on ``system`` (a ``sys.platform``) with Python ``version``, where the primitive exists."""
        on_system = self.systems is None or any(system.startswith(s) for s in self.systems)
        return on_system and version >= self.min_version


def caller(filename: str, *functions: str) -> Exemption:
    return (filename, frozenset(functions))


def options(**fields: Any) -> dict[str, Any]:
    """Optional fields of a rule chosen per entry: ``Patch(..., **options(passes=...) if x else options())``."""
    return fields
