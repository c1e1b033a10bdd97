"""Configuration objects: declared types, bodies astroid cannot infer."""

import os
import ssl
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SETTINGS: dict[str, object] = {}


def _lookup(name):
    return SETTINGS[name]  # astroid infers nothing from a dict it cannot see filled


class Names:
    """Methods named like primitives that do no IO."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def exists(self, name: str) -> bool:
        return name in self.names

    def mkdir(self, name: str) -> None:
        self.names.add(name)


class Settings:
    @property
    def data_dir(self) -> Path:
        return _lookup("data_dir")

    @property
    def names(self) -> Names:
        return _lookup("names")

    @property
    def url_path(self) -> PurePosixPath:
        return _lookup("url_path")


class TlsConfig:
    def __init__(self, cert: str, root: Path) -> None:
        self.cert = cert
        self._root = root

    def load(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert)  # blocking: ssl.SSLContext.load_cert_chain
        return context

    def prepare(self) -> None:
        self._root.joinpath("certs").mkdir(exist_ok=True)  # blocking: pathlib.Path.mkdir


@dataclass
class Layout:
    root: Path
    names: Names
    label: str = "default"


def current_layout() -> Layout:
    return _lookup("layout")


def environment_root() -> str:
    return os.environ.get("ROOT", ".")
