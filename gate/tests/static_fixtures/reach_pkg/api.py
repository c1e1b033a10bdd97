"""Async entry points reaching the helpers and the store in every supported way."""

import asyncio
import functools
import os
from functools import partial
from os import fsync as flush_to_disk
from pathlib import Path

from reach_pkg import helpers as h
from reach_pkg.store import Child, Compactor, FileLock, Store

from .helpers import connect, list_folder, read_config


async def cross_module(path):
    return read_config(path)


async def import_alias(fd):
    h.settle()
    flush_to_disk(fd)  # blocking: os.fsync


async def decorated(path):
    list_folder(path)
    return h.cached_settings(path)


async def constructor_and_static():
    store = Store(Store.default_dir())
    store.save("a", b"")
    return Store.from_env()


async def context_manager(path):
    with FileLock(path):
        return connect(path)


async def nested(path):
    def inner():
        return os.scandir(path)  # blocking: os.scandir

    return inner()


async def called_lambda(path):
    (lambda: os.stat(path))()  # blocking: os.stat
    later = lambda: os.remove(path)  # noqa: E731  # blocking: os.remove
    later()


async def called_partial(path):
    functools.partial(os.unlink, path)()  # blocking: os.unlink
    rmdir = partial(os.rmdir, path)
    rmdir()  # blocking: os.rmdir


async def annotated(store: Store, path: Path):
    return store.size(path)


async def callable_object(path: Path):
    compact = Compactor()
    compact(path)


async def path_method(path: Path):
    return path.exists()  # blocking: pathlib.Path.exists


async def path_arithmetic(path: Path, base: str):
    (path / "old").unlink()  # blocking: pathlib.Path.unlink
    target = Path(base) / "threads" / "t.jsonl"
    return target.stat()  # blocking: pathlib.Path.stat


class Service:
    def __init__(self, base: str) -> None:
        self._store = Store(base)
        self.child = Child()

    async def handle(self, path: Path):
        self._store.save("b", b"")
        if not self._store.entries:
            return None
        return self.child._load(path)

    async def subprocess(self):
        return h.run_tool()

    async def __aenter__(self):
        await asyncio.sleep(0)
        self.flush()
        return self

    async def __aexit__(self, *exc):
        return None

    def flush(self):
        os.fsync(1)  # blocking: os.fsync


def _on_done(_future):
    os.truncate("x", 0)  # blocking: os.truncate


def _tick(path):
    Path(path).touch()  # blocking: pathlib.Path.touch


async def schedule(loop: asyncio.AbstractEventLoop, future: asyncio.Future):
    future.add_done_callback(_on_done)
    loop.call_soon(_tick, "p")
    loop.call_later(1.0, lambda: os.utime("y"))  # blocking: os.utime


async def stream():
    yield read_config("z")
