"""A store whose methods block; reached through objects of known type."""

import fcntl
import os
from pathlib import Path


class Store:
    def __init__(self, base: str) -> None:
        os.makedirs(base, exist_ok=True)  # blocking: os.makedirs
        self.base = Path(base)

    @staticmethod
    def default_dir() -> Path:
        return Path.cwd()  # blocking: pathlib.Path.cwd

    @classmethod
    def from_env(cls) -> "Store":
        return cls(os.environ.get("STORE", "."))

    def save(self, name: str, data: bytes) -> None:
        tmp = self.base / (name + ".tmp")
        os.replace(tmp, self.base / name)  # blocking: os.replace

    @property
    def entries(self) -> list[str]:
        return sorted(os.listdir(self.base))  # blocking: os.listdir

    def size(self, path: Path) -> int:
        return path.stat().st_size  # blocking: pathlib.Path.stat


class FileLock:
    """A sync context manager: entering it blocks."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> "FileLock":
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT)  # blocking: os.open
        fcntl.flock(self.fd, fcntl.LOCK_EX)  # blocking: fcntl.flock
        return self

    def __exit__(self, *exc: object) -> None:
        os.fsync(self.fd)  # blocking: os.fsync


class Base:
    def _load(self, path: Path) -> str:
        return path.read_bytes().decode()  # blocking: pathlib.Path.read_bytes


class Child(Base):
    pass


class Compactor:
    """A callable object: calling it runs __call__."""

    def __call__(self, path: Path) -> None:
        path.unlink()  # blocking: pathlib.Path.unlink
