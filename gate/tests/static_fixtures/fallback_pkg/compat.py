import os


def samefile_by_stat(a, b):
    return os.stat(a) == os.stat(b)  # blocking: os.stat


def scandir_listing(path):
    return os.listdir(path)  # never bound: os.scandir exists on every Python


def fast_hash(path):
    return open(path, "rb")  # blocking: builtins.open
