"""Files: opening, reading and writing in every buffering mode, and memory-mapped files.

blockbuster patches the buffered ``read``/``write`` methods; it misses
``open()`` itself, line reads, unbuffered (``FileIO``) and text-layer calls,
and ``os.read``/``os.write`` on a disk file. Console streams, in-memory
streams and the null device cannot wait on a disk: they pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blockgate.rules.factories import os_patches, path_patch
from blockgate.rules.forms import fd_nonblocking, not_a_disk_file
from blockgate.rules.model import Audit, Patch, Probe, Scene
from blockgate.rules.scenes import ignore_os_error, open_fd


def _open_file(scene: Scene, mode: str, buffering: int = -1, path: Any = None) -> None:
    kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8"}
    f = open(path or scene.file, mode, buffering=buffering, **kwargs)  # noqa: SIM115 - closed by cleanup
    scene.keep("f", f, f.close)


def _opener(mode: str, buffering: int = -1, devnull: bool = False) -> Callable[[Scene], None]:
    def prepare(scene: Scene) -> None:
        path: str | Path | None = os.devnull if devnull else None
        if "w" in mode and not devnull:
            path = scene.fresh("w")
        _open_file(scene, mode, buffering, path)
        if "w" in mode and "b" in mode:
            scene.extra["f"].write(b"pending")

    return prepare


def _two_fds(scene: Scene) -> None:
    open_fd(scene)
    out = os.open(scene.fresh("out"), os.O_RDWR | os.O_CREAT)
    scene.keep("out", out, lambda: os.close(out))


def _pipe(scene: Scene) -> None:
    r, w = os.pipe()
    os.write(w, b"ready")
    scene.keep("r", r, lambda: os.close(r))
    scene.keep("w", w, lambda: os.close(w))


def _nonblocking_pipe(scene: Scene) -> None:
    _pipe(scene)
    os.set_blocking(scene.extra["r"], False)
    os.set_blocking(scene.extra["w"], False)


def _pipe_and_fd(scene: Scene) -> None:
    _pipe(scene)
    open_fd(scene)


def _mapped(scene: Scene) -> None:
    import mmap

    open_fd(scene)
    mapped = mmap.mmap(scene.extra["fd"], 0)
    scene.keep("map", mapped, mapped.close)


def _io_patches(
    owner: str, methods: tuple[str, ...], reason: str, mode: str, buffering: int = -1
) -> list[Patch]:
    """A rule per ``io.<owner>.<method>``: fires on a disk file, passes on the null device."""
    arguments = {
        "read": (4,),
        "read1": (4,),
        "peek": (1,),
        "readinto": (bytearray(4),),
        "write": (b"L",),
    }
    rules = []
    for method in methods:

        def call(scene: Scene, method: str = method) -> Any:
            return getattr(scene.extra["f"], method)(*arguments.get(method, ()))

        def call_null(scene: Scene, call: Callable[[Scene], Any] = call) -> Any:
            # The null device refuses a truncate (EINVAL) after the call got through.
            return ignore_os_error(lambda: call(scene))

        call.__name__ = f"{owner}_{method}"
        rules.append(
            Patch(
                "files",
                f"io.{owner}.{method}",
                reason,
                fires=Probe(call, _opener(mode, buffering)),
                nonblocking_if=not_a_disk_file,
                passes=Probe(call_null, _opener(mode, buffering, devnull=True)),
            )
        )
    return rules


RULES: tuple[Patch | Audit, ...] = (
    # -- files: opening, and reading or writing in every buffering mode ----
    Audit(
        "files",
        "open",
        "open()/io.open/os.open reach the disk (and any mode, buffered or not)",
        fires=Probe(lambda s: open(s.file, encoding="utf-8").close()),
        raised_by=(
            "builtins.open",
            "io.open",
            "io.open_code",
            "io.FileIO",
            "os.open",
            "os.fdopen",
            "posix.open",
        ),
        # On Linux TemporaryFile opens the directory with O_TMPFILE: os.open raises "open".
        classifies=(
            "tempfile.TemporaryFile",
            "tempfile.SpooledTemporaryFile.rollover",
            "tempfile.SpooledTemporaryFile.fileno",
        ),
    ),
    *_io_patches(
        "FileIO",
        ("read", "readall", "readinto", "write"),
        "unbuffered file IO (buffering=0) is a raw syscall on a disk file",
        "r+b",
        buffering=0,
    ),
    *_io_patches(
        "FileIO", ("truncate",), "changes the file's size on disk (ftruncate, no audit event)", "r+b", 0
    ),
    *_io_patches(
        "BufferedReader",
        ("readline", "readlines", "read1", "readinto", "peek"),
        "a buffered read refills from the disk",
        "rb",
    ),
    *_io_patches(
        "BufferedRandom",
        ("readline", "readlines", "read1", "readinto"),
        "a buffered read refills from the disk",
        "r+b",
    ),
    *_io_patches("BufferedWriter", ("flush",), "flushing a buffered writer writes to the disk", "wb"),
    *_io_patches(
        "TextIOWrapper",
        ("readline", "readlines", "flush"),
        "a text read or flush goes through to the disk",
        "r+",
    ),
    path_patch("files", "open", "opens a file on disk", lambda s: s.file.open().close()),
    path_patch("files", "read_text", "opens and reads a file", lambda s: s.file.read_text()),
    path_patch("files", "read_bytes", "opens and reads a file", lambda s: s.file.read_bytes()),
    path_patch("files", "write_text", "opens and writes a file", lambda s: s.fresh("wt").write_text("x")),
    path_patch("files", "write_bytes", "opens and writes a file", lambda s: s.fresh("wb").write_bytes(b"x")),
    *os_patches(
        "files", "pread", "reads a disk file at an offset", lambda s: (s.extra["fd"], 4, 0), prepare=open_fd
    ),
    *os_patches(
        "files",
        "pwrite",
        "writes a disk file at an offset",
        lambda s: (s.extra["fd"], b"L", 0),
        prepare=open_fd,
    ),
    *os_patches(
        "files",
        "readv",
        "reads a descriptor into buffers: a disk read, or a wait on a pipe or socket",
        lambda s: (s.extra["fd"], [bytearray(4)]),
        prepare=open_fd,
        nonblocking_if=fd_nonblocking,
        passes_with=(lambda s: (s.extra["r"], [bytearray(4)]), _nonblocking_pipe),
    ),
    *os_patches(
        "files",
        "writev",
        "writes buffers to a descriptor: a disk write, or a wait on a full pipe",
        lambda s: (s.extra["fd"], [b"L"]),
        prepare=open_fd,
        nonblocking_if=fd_nonblocking,
        passes_with=(lambda s: (s.extra["w"], [b"L"]), _nonblocking_pipe),
    ),
    *os_patches(
        "files",
        "preadv",
        "reads a disk file at an offset",
        lambda s: (s.extra["fd"], [bytearray(4)], 0),
        prepare=open_fd,
    ),
    *os_patches(
        "files",
        "pwritev",
        "writes a disk file at an offset",
        lambda s: (s.extra["fd"], [b"L"], 0),
        prepare=open_fd,
    ),
    *os_patches(
        "files",
        "read",
        "reads a descriptor: a disk read, or a wait on a pipe or socket",
        lambda s: (s.extra["fd"], 4),
        prepare=open_fd,
        os_too=False,  # os.read: a blockbuster default
        nonblocking_if=fd_nonblocking,
        passes_with=(lambda s: (s.extra["r"], 1), _nonblocking_pipe),
    ),
    *os_patches(
        "files",
        "write",
        "writes a descriptor: a disk write, or a wait on a full pipe",
        lambda s: (s.extra["fd"], b"L"),
        prepare=open_fd,
        os_too=False,  # os.write: a blockbuster default
        nonblocking_if=fd_nonblocking,
        passes_with=(lambda s: (s.extra["w"], b"L"), _nonblocking_pipe),
    ),
    *os_patches(
        "files",
        "sendfile",
        "copies file data in the kernel",
        lambda s: (s.extra["out"], s.extra["fd"], 0, 4),
        prepare=_two_fds,
        os_too=False,  # os.sendfile: a blockbuster default
    ),
    *os_patches(
        "files",
        "copy_file_range",
        "copies file data in the kernel",
        lambda s: (s.extra["fd"], s.extra["out"], 4),
        prepare=_two_fds,
    ),
    *os_patches(
        "files",
        "splice",
        "moves data between a pipe and a file in the kernel",
        lambda s: (s.extra["r"], s.extra["fd"], 1),
        prepare=_pipe_and_fd,
    ),
    *os_patches(
        "files",
        "posix_fallocate",
        "allocates disk blocks for a file",
        lambda s: (s.extra["fd"], 0, 16),
        prepare=open_fd,
        run=ignore_os_error,  # some filesystems refuse it, after the call
    ),
    # -- memory-mapped files ------------------------------------------------------------
    Patch(
        "files",
        "mmap.mmap.flush",
        "msync: waits until the disk has the mapped pages",
        fires=Probe(lambda s: s.extra["map"].flush(), _mapped),
    ),
    Patch(
        "files",
        "mmap.mmap.resize",
        "resizes the mapped file on disk (ftruncate) and remaps it",
        fires=Probe(lambda s: s.extra["map"].resize(32), _mapped),
        systems=("linux", "win32"),  # macOS has no mremap: resize raises at once there
    ),
)
