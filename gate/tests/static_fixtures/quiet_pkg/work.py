"""Offloaded work and look-alikes of primitives."""

import asyncio
import functools
import os
from pathlib import Path

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool


def read_sync(path):
    with open(path) as f:
        return f.read()


async def offloaded_directly(path):
    return await asyncio.to_thread(read_sync, path)


async def offloaded_lambda(path):
    return await asyncio.to_thread(lambda: open(path).read())


async def offloaded_partial(path):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(os.stat, path))


async def offloaded_variable(path):
    job = functools.partial(read_sync, path)
    first = await asyncio.to_thread(job)
    reader = read_sync
    return first, await asyncio.to_thread(reader, path)


async def offloaded_anyio(path):
    return await anyio.to_thread.run_sync(read_sync, path)


async def offloaded_starlette(path):
    return await run_in_threadpool(read_sync, path)


async def offloaded_future(path):
    future = asyncio.get_running_loop().run_in_executor(None, os.listdir, path)
    return await future


class Client:
    """An async client whose methods share names with primitives."""

    async def exists(self, key: str) -> bool:
        return bool(key)

    async def open(self) -> "Client":
        return self

    async def stat(self, key: str) -> int:
        return len(key)


class Registry:
    """Sync methods named like primitives that do no IO."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def rename(self, old: str, new: str) -> None:
        self.names[new] = self.names.pop(old)

    def open(self) -> "Registry":
        return self

    def remove(self, name: str) -> None:
        self.names.pop(name, None)


async def awaited_same_name(client: Client):
    await client.open()
    if await client.exists("k"):
        return await client.stat("k")
    return 0


async def package_method_same_name(registry: Registry):
    registry.open().rename("a", "b")
    registry.remove("b")


async def path_arithmetic(base: str):
    root = Path(base)
    target = root / "threads" / "t.jsonl"
    lock = target.with_suffix(".lock")
    return str(lock.parent), target.name, os.path.join(base, "x"), root.parts


def sync_only(path):
    with open(path) as f:
        return f.read()


def sync_caller(path):
    return sync_only(path), os.listdir(path)


async def coroutine_not_awaited(path):
    task = asyncio.ensure_future(offloaded_directly(path))
    return await task
