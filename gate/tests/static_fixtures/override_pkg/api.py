"""Entry points: subclass objects running inherited template methods, and their twins."""

from override_pkg.exporters import FileExporter, Formatter, Shouty


async def export(path: str) -> None:
    FileExporter().export(path)


async def plain(text: str) -> str:
    return Formatter().clean(text)  # constructed as the base: its own method only


async def shout(text: str) -> str:
    return Shouty().clean(text)
