"""Parses on every supported Python; imports the file that does not parse before 3.12."""

import os

from syntax_pkg.generics import newest


async def listing(path):
    names = os.listdir(path)  # blocking: os.listdir
    return newest(names)
