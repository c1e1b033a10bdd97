"""An abstract base whose template method calls hooks on self; subclasses do the IO."""

import abc
import os
from pathlib import Path


class Exporter(abc.ABC):
    def export(self, path: str) -> None:
        data = self.render()  # abstract here: only the overrides ever run
        self.write(path, data)

    @abc.abstractmethod
    def render(self) -> str: ...

    def write(self, path: str, data: str) -> None:
        return None  # the base writes nothing; a subclass's write does


class FileExporter(Exporter):
    def render(self) -> str:
        return "rows"

    def write(self, path: str, data: str) -> None:
        Path(path).write_text(data)  # blocking: pathlib.Path.write_text


class CachedExporter(FileExporter):
    """A grandchild: its override is followed from the base's call as well."""

    def render(self) -> str:
        with open("cache.txt") as cached:  # blocking: builtins.open
            return cached.read()


class StreamExporter(Exporter):
    """Overrides the template method too: Exporter.export never runs on it, so its write is
    reached only through its own export, which offloads it."""

    def render(self) -> str:
        return "stream"

    def export(self, path: str) -> None:
        return None  # handed to a worker thread elsewhere; never calls self.write on the loop

    def write(self, path: str, data: str) -> None:
        os.remove(path)  # twin: no object that runs Exporter.export has this write


class Formatter:
    def clean(self, text: str) -> str:
        return text.strip()


class Audited(Formatter):
    def clean(self, text: str) -> str:
        os.fsync(1)  # twin: only an Audited object runs it, and no entry point makes one
        return text


class Shouty(Formatter):
    def clean(self, text: str) -> str:
        return super().clean(text).upper()  # super(): the base's method, not its siblings'


class Unrelated:
    """Not a subclass: a method of the same name is never an override."""

    def write(self, path: str, data: str) -> None:
        os.truncate(path, 0)  # twin: not in any Exporter's hierarchy
