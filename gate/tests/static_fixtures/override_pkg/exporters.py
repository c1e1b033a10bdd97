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
