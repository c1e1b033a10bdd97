"""Durability, size, permissions, ownership and times: ``fsync`` and the calls that change inode data.

``fsync``/``fdatasync``/``sync`` wait for the disk to acknowledge; ``truncate``,
``chmod``, ``chown``, ``utime`` write inode data and wait on the file system's
journal.
"""

from __future__ import annotations

import os

from blockgate.rules.factories import os_patches, path_patch
from blockgate.rules.model import POSIX_SYSTEMS, Audit, Patch, Probe
from blockgate.rules.scenes import ignore_os_error, lookup, open_fd

RULES: tuple[Patch | Audit, ...] = (
    # -- durability, size, permissions, ownership, times ------------------------
    *os_patches(
        "durability",
        "fsync",
        "waits until the disk has the data: milliseconds to seconds",
        lambda s: (s.extra["fd"],),
        prepare=open_fd,
        windows=True,
    ),
    *os_patches(
        "durability",
        "fdatasync",
        "waits until the disk has the data",
        lambda s: (s.extra["fd"],),
        prepare=open_fd,
        platform_has_it=hasattr(os, "fdatasync"),
    ),
    *os_patches("durability", "sync", "waits until every disk has every dirty page", lambda s: ()),
    Audit(
        "durability",
        "os.truncate",
        "changes a file's size on disk (os.truncate and os.ftruncate)",
        fires=Probe(lambda s: os.truncate(s.file, 4)),
        raised_by=("os.truncate", "os.ftruncate", "posix.truncate", "posix.ftruncate"),
    ),
    Audit(
        "permissions",
        "os.chmod",
        "changes file permissions on disk",
        fires=Probe(lambda s: os.chmod(s.file, 0o644)),
        raised_by=("os.chmod", "os.fchmod", "os.lchmod", "posix.chmod", "posix.fchmod", "posix.lchmod"),
    ),
    Audit(
        "permissions",
        "os.chflags",
        "changes file flags on disk (macOS, BSD: os.chflags and os.lchflags)",
        fires=Probe(lambda s: lookup("os.chflags")(s.file, 0)),
        raised_by=("os.chflags", "os.lchflags", "posix.chflags", "posix.lchflags"),
        platform_has_it=hasattr(os, "chflags"),  # its probe runs where chflags exists, never on Linux
    ),
    Audit(
        "permissions",
        "os.chown",
        "changes file ownership on disk",
        fires=Probe(lambda s: os.chown(s.file, os.getuid(), -1)),
        raised_by=("os.chown", "os.fchown", "os.lchown", "posix.chown", "posix.fchown", "posix.lchown"),
        systems=POSIX_SYSTEMS,
    ),
    Audit(
        "permissions",
        "os.utime",
        "changes file times on disk",
        fires=Probe(lambda s: os.utime(s.file)),
        raised_by=("os.utime", "posix.utime"),
    ),
    *(
        Audit(
            "permissions",
            f"os.{op}xattr",
            "reads or changes extended attributes on disk",
            fires=Probe(call),
            raised_by=(f"os.{op}xattr", f"posix.{op}xattr"),
            platform_has_it=hasattr(os, "getxattr"),
        )
        for op, call in (
            ("get", lambda s: ignore_os_error(lambda: os.getxattr(s.file, "user.blockgate"))),
            ("set", lambda s: ignore_os_error(lambda: os.setxattr(s.file, "user.blockgate", b"1"))),
            ("list", lambda s: os.listxattr(s.file)),
            ("remove", lambda s: ignore_os_error(lambda: os.removexattr(s.file, "user.blockgate"))),
        )
    ),
    path_patch("permissions", "chmod", "changes file permissions on disk", lambda s: s.file.chmod(0o644)),
)
