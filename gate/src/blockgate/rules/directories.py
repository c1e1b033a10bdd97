"""Directories: listing, creation, removal and renaming of entries, and temporary files and folders.

Each changes or reads directory entries on disk; the ``shutil`` and
``tempfile`` helpers wrap several such calls and are caught at their own name
so that the error names what the scanned code called.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from typing import Any

from blockgate.rules.factories import os_patches, path_patch
from blockgate.rules.model import POSIX_SYSTEMS, Audit, Patch, Probe, Scene
from blockgate.rules.scenes import ignore_os_error


def _source(scene: Scene) -> None:
    src = scene.fresh("src")
    src.write_text("x")
    scene.extra["src"] = src


def _directory(scene: Scene) -> None:
    d = scene.fresh("dir")
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "f").write_text("x")
    scene.extra["dir"] = d


def _empty_dir(scene: Scene) -> None:
    d = scene.fresh("empty")
    d.mkdir()
    scene.extra["empty"] = d


def _archive(scene: Scene) -> None:
    _directory(scene)
    scene.keep("archive", shutil.make_archive(str(scene.fresh("a")), "tar", scene.extra["dir"]))


_DIR_CHANGE = "changes directory entries on disk"


# Python 3.12+ asks for an extraction filter (3.14 makes "data" the default).
_DATA_FILTER: dict[str, Any] = {"filter": "data"} if sys.version_info >= (3, 12) else {}


RULES: tuple[Patch | Audit, ...] = (
    # -- directories: listing, creation, removal, renaming --------------------
    Audit(
        "directories",
        "os.listdir",
        "lists a directory on disk",
        fires=Probe(lambda s: os.listdir(s.tmp)),
        raised_by=("os.listdir", "posix.listdir"),
    ),
    Audit(
        "directories",
        "os.scandir",
        "lists a directory on disk",
        fires=Probe(lambda s: os.scandir(s.tmp).close()),
        raised_by=("os.scandir", "posix.scandir", "os.walk", "os.fwalk"),
    ),
    Audit(
        "directories",
        "glob.glob",
        "globbing lists directories",
        fires=Probe(lambda s: glob.glob(str(s.tmp / "*.txt"))),
        raised_by=("glob.glob", "glob.iglob"),
    ),
    Audit(
        "directories",
        "os.mkdir",
        "creates a directory entry",
        fires=Probe(lambda s: os.mkdir(s.fresh("mkdir"))),
        raised_by=("os.mkdir", "posix.mkdir", "os.makedirs"),
    ),
    Audit(
        "directories",
        "os.rmdir",
        "removes a directory entry",
        fires=Probe(lambda s: os.rmdir(s.extra["empty"]), _empty_dir),
        raised_by=("os.rmdir", "posix.rmdir", "os.removedirs"),
    ),
    Audit(
        "directories",
        "os.remove",
        "unlinks a file (os.remove and os.unlink)",
        fires=Probe(lambda s: os.remove(s.extra["src"]), _source),
        raised_by=("os.remove", "os.unlink", "posix.remove", "posix.unlink"),
    ),
    Audit(
        "directories",
        "os.rename",
        "renames a directory entry (os.rename and os.replace)",
        fires=Probe(lambda s: os.rename(s.extra["src"], s.fresh("renamed")), _source),
        raised_by=("os.rename", "os.replace", "os.renames", "posix.rename", "posix.replace"),
    ),
    Audit(
        "directories",
        "os.link",
        "creates a hard link on disk",
        fires=Probe(lambda s: os.link(s.file, s.fresh("hard")), None),
        raised_by=("os.link", "posix.link"),
    ),
    Audit(
        "directories",
        "os.symlink",
        "creates a symbolic link on disk",
        fires=Probe(lambda s: os.symlink(s.file, s.fresh("sym"))),
        raised_by=("os.symlink", "posix.symlink"),
    ),
    *os_patches(
        "directories",
        "chroot",
        "looks the new root directory up on disk",
        lambda s: (s.tmp / "missing",),  # never a real chroot: the test process keeps its root
        run=ignore_os_error,
    ),
    *os_patches("directories", "mkfifo", _DIR_CHANGE, lambda s: (s.fresh("fifo"),)),
    *os_patches("directories", "mknod", _DIR_CHANGE, lambda s: (s.fresh("node"), 0o600)),
    Audit(
        "directories",
        "os.chdir",
        "looks the new working directory up on disk",
        fires=Probe(lambda s: os.chdir(s.extra["cwd"]), lambda s: s.keep("cwd", os.getcwd())),
        raised_by=("os.chdir", "os.fchdir", "posix.chdir", "posix.fchdir"),
    ),
    Audit(
        "directories",
        "shutil.rmtree",
        "removes a whole tree",
        fires=Probe(lambda s: shutil.rmtree(s.extra["dir"]), _directory),
        raised_by=("shutil.rmtree",),
    ),
    Audit(
        "directories",
        "shutil.copyfile",
        "copies file data",
        fires=Probe(lambda s: shutil.copyfile(s.file, s.fresh("copy"))),
        raised_by=("shutil.copyfile", "shutil.copy", "shutil.copy2", "shutil.copytree", "shutil.move"),
    ),
    Audit(
        "directories",
        "shutil.copymode",
        "reads and changes file permissions on disk",
        fires=Probe(lambda s: shutil.copymode(s.file, s.file)),
        raised_by=("shutil.copymode",),
    ),
    Audit(
        "directories",
        "shutil.copystat",
        "reads and changes file metadata on disk",
        fires=Probe(lambda s: shutil.copystat(s.file, s.file)),
        raised_by=("shutil.copystat",),
    ),
    Audit(
        "directories",
        "shutil.make_archive",
        "reads a tree and writes an archive",
        fires=Probe(
            lambda s: shutil.make_archive(str(s.fresh("archive")), "tar", s.extra["dir"]), _directory
        ),
        raised_by=("shutil.make_archive",),
    ),
    Audit(
        "directories",
        "shutil.unpack_archive",
        "reads an archive and writes its files",
        fires=Probe(
            lambda s: shutil.unpack_archive(s.extra["archive"], s.fresh("unpacked"), **_DATA_FILTER),
            _archive,
        ),
        raised_by=("shutil.unpack_archive",),
    ),
    Audit(
        "directories",
        "shutil.chown",
        "changes file ownership on disk",
        fires=Probe(lambda s: shutil.chown(s.file, user=os.getuid())),
        raised_by=("shutil.chown",),
        systems=POSIX_SYSTEMS,
    ),
    path_patch("directories", "iterdir", "lists directories on disk", lambda s: list(s.tmp.iterdir())),
    path_patch("directories", "glob", "lists directories on disk", lambda s: list(s.tmp.glob("*.txt"))),
    path_patch("directories", "rglob", "lists directories on disk", lambda s: list(s.tmp.rglob("*.txt"))),
    path_patch(
        "directories",
        "walk",
        "lists directories on disk",
        lambda s: list(s.tmp.walk()),  # type: ignore[attr-defined,unused-ignore]  # 3.12+
        min_version=(3, 12),
    ),
    path_patch("directories", "mkdir", _DIR_CHANGE, lambda s: s.fresh("pmkdir").mkdir()),
    path_patch("directories", "rmdir", _DIR_CHANGE, lambda s: s.extra["empty"].rmdir(), prepare=_empty_dir),
    path_patch("directories", "unlink", _DIR_CHANGE, lambda s: s.extra["src"].unlink(), prepare=_source),
    path_patch(
        "directories",
        "rename",
        _DIR_CHANGE,
        lambda s: s.extra["src"].rename(s.fresh("prenamed")),
        prepare=_source,
    ),
    path_patch(
        "directories",
        "replace",
        _DIR_CHANGE,
        lambda s: s.extra["src"].replace(s.fresh("preplaced")),
        prepare=_source,
    ),
    path_patch("directories", "touch", _DIR_CHANGE, lambda s: s.fresh("touched").touch()),
    path_patch("directories", "symlink_to", _DIR_CHANGE, lambda s: s.fresh("sym").symlink_to(s.file)),
    path_patch("directories", "hardlink_to", _DIR_CHANGE, lambda s: s.fresh("hard").hardlink_to(s.file)),
    # -- temporary files ----------------------------------------------------------
    Audit(
        "tempfiles",
        "tempfile.mkstemp",
        "creates a file on disk (NamedTemporaryFile too)",
        fires=Probe(lambda s: os.close(tempfile.mkstemp(dir=s.tmp)[0])),
        raised_by=("tempfile.mkstemp", "tempfile.NamedTemporaryFile", "tempfile.TemporaryFile"),
    ),
    Audit(
        "tempfiles",
        "tempfile.mkdtemp",
        "creates a directory on disk (TemporaryDirectory too)",
        fires=Probe(lambda s: tempfile.mkdtemp(dir=s.tmp)),
        raised_by=("tempfile.mkdtemp", "tempfile.TemporaryDirectory"),
    ),
)
