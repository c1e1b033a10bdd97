import glob
import os


class Plugins:
    def __init__(self, plugins_dir=None, config_dir=None):
        if config_dir and not plugins_dir:
            plugins_dir = os.path.join(config_dir, "plugins")
        self.plugins_dir = plugins_dir
        if self.plugins_dir:
            for path in glob.glob(os.path.join(self.plugins_dir, "*.py")):  # untaken  # blocking: glob.glob
                load(path)


def load(path):
    return open(path)  # untaken  # blocking: builtins.open


class Walker:
    def walk(self, root, deep=False):
        if deep:
            return list(os.walk(root))  # blocking: os.walk
        return os.listdir(root)  # blocking: os.listdir


class Reloaded:
    def __init__(self, cache_dir=None):
        self.cache_dir = cache_dir
        self.reload()
        if self.cache_dir:
            os.makedirs(self.cache_dir)  # blocking: os.makedirs

    def reload(self):
        self.cache_dir = os.environ.get("CACHE_DIR")


def listing(root, deep=False):
    if deep:
        return list(os.walk(root))  # untaken  # blocking: os.walk
    else:
        return os.scandir(root)  # blocking: os.scandir


class Limits:
    def __init__(self, strict=False):
        if strict:
            os.statvfs("/")  # blocking: os.statvfs


def reassigned(path, extra=None):
    extra = extra or path
    if extra:
        os.stat(extra)  # blocking: os.stat


def configured(path, cache=None, config=None):
    if config and not cache:
        cache = config
    if cache:
        os.utime(path)  # blocking: os.utime


def by_keywords(path, verbose=False):
    if verbose:
        os.lstat(path)  # blocking: os.lstat


def checked(path, check=None):
    if check is not None:
        os.access(path, os.R_OK)  # blocking: os.access


def required(path, flag):
    if flag:
        os.remove(path)  # untaken  # blocking: os.remove


async def inspect(files):
    return Plugins(), files  # neither plugins_dir nor config_dir: the plugin branch is untaken


async def shallow(root):
    return Walker().walk(root)  # deep left False: os.walk untaken on this chain...


async def deep_listing(root):
    return Walker().walk(root, True)  # ...and taken on this one


async def listed(root):
    return listing(root), Limits(True)  # the else branch is taken; True is strict, not self


async def reloaded():
    return Reloaded()  # cache_dir not passed, but reload() sets self.cache_dir again


async def traps(path, options):
    reassigned(path)  # the function sets extra itself
    configured(path, config=path)  # config given: cache may be set from it
    by_keywords(path, **options)  # **options may pass verbose
    checked(path, 0)  # 0 is not None
    required(path, False)  # passes False: untaken
