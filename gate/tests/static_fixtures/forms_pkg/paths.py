"""abspath and absolute of paths already absolute (no getcwd), beside relative ones."""

import os
from pathlib import Path

import forms_pkg

HERE = os.path.dirname(os.path.abspath(__file__))  # module level: not on the loop


async def static_file(root: Path, name: str):
    full = (root / name).resolve().absolute()  # blocking: pathlib.Path.resolve
    again = full.absolute()  # twin: a resolved path is absolute
    cwd = Path.cwd().absolute()  # blocking: pathlib.Path.cwd
    return full, again, cwd, (root / name).absolute()  # blocking: pathlib.Path.absolute


async def package_info(relative: str):
    here = os.path.abspath(forms_pkg.__file__)  # twin: a module's __file__ is absolute
    p = os.path
    data = p.abspath(p.join(p.dirname(__file__), "data"))  # twin: joined to an absolute dir
    parent = Path(__file__).parent.absolute()  # twin: the module's folder
    mine = os.path.abspath(relative)  # blocking: os.path.abspath
    other = os.path.abspath(os.path.join(here, relative))  # blocking: os.path.abspath
    return here, data, parent, mine, other
