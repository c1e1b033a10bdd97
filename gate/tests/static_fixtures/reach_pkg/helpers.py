"""Sync helpers in another module than their async callers."""

import functools
import os
import sqlite3
import subprocess
import time
from pathlib import Path


def read_config(path):
    with open(path) as f:  # blocking: builtins.open
        return f.name


def settle():
    time.sleep(0.1)  # blocking: time.sleep


def connect(path):
    return sqlite3.connect(path)  # blocking: sqlite3.connect


def run_tool():
    return subprocess.run(["true"], check=False)  # blocking: subprocess.run


@functools.lru_cache(maxsize=32)
def cached_settings(path: str) -> str:
    return Path(path).read_text()  # blocking: pathlib.Path.read_text


def logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


@logged
def list_folder(path):
    return os.listdir(path)  # blocking: os.listdir
