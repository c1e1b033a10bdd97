"""Async entry points reaching IO only through declared types; each twin stays silent."""

from pathlib import Path

from annotated_pkg.config import Names, Settings, TlsConfig, current_layout


async def property_annotated(settings: Settings):
    settings.data_dir.mkdir()  # blocking: pathlib.Path.mkdir
    settings.names.mkdir("x")  # twin: Names.mkdir does no IO
    return settings.url_path.with_suffix(".md").name  # twin: a pure path has no IO


class Server:
    def __init__(self, config: TlsConfig, names: Names, root: Path) -> None:
        self.config = config
        self.names = names
        self._root = root

    async def start(self):
        context = self.config.load()  # through an attribute set from an annotated parameter
        self.config.prepare()
        self.names.exists("x")  # twin: an attribute of a pure type
        return context

    async def check(self):
        root = self._root
        names = self.names
        names.exists("y")  # twin: a local copy of a pure attribute
        return root.exists()  # blocking: pathlib.Path.exists


async def field_of_a_returned_type():
    layout = current_layout()
    layout.root.mkdir()  # blocking: pathlib.Path.mkdir
    layout.names.mkdir("z")  # twin: a field whose type does no IO
    return layout.label.upper()


async def conditional(first: Path, second: Path, flag: bool):
    target = first if flag else second.with_suffix(".md")
    if target.exists():  # blocking: pathlib.Path.exists
        return target.name
    name = first.name if flag else second.with_suffix(".md").name
    return name.upper()  # twin: a string, whatever the branch


async def path_methods_keep_the_class(base: Path):
    base.joinpath("a", "b").mkdir(parents=True)  # blocking: pathlib.Path.mkdir
    base.parent.with_name("c").touch()  # blocking: pathlib.Path.touch
    return base.with_suffix(".x").suffix  # twin: pure path methods
