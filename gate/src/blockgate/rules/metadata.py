"""File metadata: stat in all its spellings (``os``, ``os.path``, ``pathlib``, ``DirEntry``).

A stat waits on the disk, and on a network file system on the network. On
3.10 ``pathlib`` binds ``os`` functions at import, so patching ``os.stat``
alone misses it: ``pathlib`` has rules of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blockgate.rules.factories import os_patches, path_patch
from blockgate.rules.model import Audit, Patch, Probe, Scene
from blockgate.rules.scenes import lookup, open_fd


def _not_following_a_link(entry: Any, *, follow_symlinks: bool = True) -> bool:
    return not follow_symlinks or not entry.is_symlink()


def _symlink(scene: Scene) -> None:
    link = scene.fresh("link")
    link.symlink_to(scene.file)
    scene.extra["link"] = link


def _dir_entry(scene: Scene) -> None:
    with os.scandir(scene.tmp) as entries:
        scene.extra["entry"] = next(e for e in entries if e.name == scene.file.name)


def _symlink_entry(scene: Scene) -> None:
    _symlink(scene)
    with os.scandir(scene.tmp) as entries:
        scene.extra["entry"] = next(e for e in entries if e.name == scene.extra["link"].name)


_STAT = "a stat syscall: waits on the disk (and on network filesystems, the network)"


_PATHLIB_STAT = "pathlib metadata calls stat the disk (on 3.10 via os functions bound at import)"


def _path_function(function: str) -> Callable[[Scene], Any]:
    def call(scene: Scene) -> Any:
        return lookup(f"os.path.{function}")(scene.file)

    return call


RULES: tuple[Patch | Audit, ...] = (
    # -- metadata ------------------------------------------------------------
    *os_patches("metadata", "lstat", _STAT, lambda s: (s.file,), windows=True),
    *os_patches(
        "metadata",
        "fstat",
        "a stat syscall on an open file",
        lambda s: (s.extra["fd"],),
        prepare=open_fd,
        windows=True,
    ),
    *os_patches(
        "metadata", "stat", _STAT, lambda s: (s.file,), os_too=False, windows=True
    ),  # os.stat: a blockbuster default
    *os_patches("metadata", "access", _STAT, lambda s: (s.file, os.R_OK), os_too=False, windows=True),
    *os_patches("metadata", "statvfs", "asks the filesystem for its usage", lambda s: (s.tmp,), os_too=False),
    *os_patches(
        "metadata",
        "fstatvfs",
        "asks the filesystem for its usage",
        lambda s: (s.extra["fd"],),
        prepare=open_fd,
    ),
    *os_patches(
        "metadata",
        "readlink",
        "reads a link on disk",
        lambda s: (s.extra["link"],),
        prepare=_symlink,
        os_too=False,
        windows=True,  # the pathlib.Path.readlink rule's probe makes the same link everywhere
    ),
    *os_patches(
        "metadata",
        "getcwd",
        "reads the current directory from the kernel",
        lambda s: (),
        os_too=False,
        windows=True,
    ),
    *os_patches(
        "metadata", "getcwdb", "reads the current directory from the kernel", lambda s: (), windows=True
    ),
    *os_patches(
        "metadata",
        "pathconf",
        "looks a path up on disk to ask its filesystem",
        lambda s: (s.file, "PC_NAME_MAX"),
    ),
    Patch(
        "metadata",
        "os.DirEntry.stat",
        "stats the entry on disk the first time (the listing holds only its name and type)",
        fires=Probe(lambda s: s.extra["entry"].stat(), _dir_entry),
        classifies=("posix.DirEntry.stat",),  # one C type, two names
    ),
    *(
        Patch(
            "metadata",
            f"os.DirEntry.{method}",
            "follows a symbolic link with a stat on disk (other entries answer from the listing)",
            fires=Probe(call, _symlink_entry),
            nonblocking_if=_not_following_a_link,
            passes=Probe(call, _dir_entry),
            classifies=(f"posix.DirEntry.{method}",),
        )
        for method, call in (
            ("is_dir", lambda s: s.extra["entry"].is_dir()),
            ("is_file", lambda s: s.extra["entry"].is_file()),
        )
    ),
    # ntpath binds these to C functions of nt that ask the disk themselves, past the os.stat rule
    *(
        Patch(
            "metadata",
            f"os.path.{function}",
            reason,
            fires=Probe(_path_function(function)),
            systems=("win32",),  # its probe runs there only
            min_version=since,
        )
        for function, since, reason in (
            ("isdir", (3, 10), "on Windows nt._isdir (3.12: _path_isdir) stats the disk from C"),
            ("isfile", (3, 12), "on Windows nt._path_isfile stats the disk from C"),
            ("exists", (3, 12), "on Windows nt._path_exists stats the disk from C"),
            ("lexists", (3, 13), "on Windows nt._path_lexists stats the disk from C"),
            ("isjunction", (3, 12), "on Windows it reads the reparse point (3.13: from C)"),
            ("realpath", (3, 10), "on Windows it opens the file to ask its final path, from C"),
        )
    ),
    path_patch("metadata", "stat", _PATHLIB_STAT, lambda s: s.file.stat()),
    path_patch("metadata", "lstat", _PATHLIB_STAT, lambda s: s.file.lstat()),
    path_patch("metadata", "exists", _PATHLIB_STAT, lambda s: s.file.exists()),
    path_patch("metadata", "is_dir", _PATHLIB_STAT, lambda s: s.tmp.is_dir()),
    path_patch("metadata", "is_file", _PATHLIB_STAT, lambda s: s.file.is_file()),
    path_patch("metadata", "is_symlink", _PATHLIB_STAT, lambda s: s.file.is_symlink()),
    path_patch("metadata", "is_mount", _PATHLIB_STAT, lambda s: s.tmp.is_mount()),
    path_patch("metadata", "samefile", _PATHLIB_STAT, lambda s: s.file.samefile(s.file)),
    path_patch(
        "metadata", "owner", _PATHLIB_STAT + " and reads the account database", lambda s: s.file.owner()
    ),
    path_patch(
        "metadata", "group", _PATHLIB_STAT + " and reads the group database", lambda s: s.file.group()
    ),
    path_patch(
        "metadata", "readlink", "reads a link on disk", lambda s: s.extra["link"].readlink(), prepare=_symlink
    ),
    path_patch(
        "metadata",
        "resolve",
        "resolving a path reads the current directory and follows links on disk",
        lambda s: s.file.resolve(),
    ),
    path_patch(
        "metadata",
        "absolute",
        "a relative path is joined to the current directory, read from the kernel",
        lambda s: Path("relative.txt").absolute(),
        nonblocking_if=lambda p, *_, **__: p.is_absolute(),
        passes=Probe(lambda s: Path("/srv/absolute.txt").absolute()),
    ),
    path_patch("metadata", "cwd", "reads the current directory from the kernel", lambda s: Path.cwd()),
)
