try:
    from os.path import samefile  # every Python has it: the fallback below never binds
except ImportError:
    from fallback_pkg.compat import samefile_by_stat as samefile

try:
    from os import scandir
except (ModuleNotFoundError, ImportError):
    from fallback_pkg.compat import scandir_listing as scandir

try:
    from no_such_accelerator import fast_hash  # not installed: the fallback is what runs
except ImportError:
    from fallback_pkg.compat import fast_hash

try:
    from os.path import samefile as same_again
except OSError:  # not an import failure: both bindings stay possible
    from fallback_pkg.compat import samefile_by_stat as same_again


async def rename(old, new):
    if samefile(old, new):  # blocking: os.path.samefile
        return None
    return scandir(new)  # blocking: os.scandir


async def digest(path):
    return fast_hash(path)


async def compare(a, b):
    return same_again(a, b)  # blocking: os.path.samefile
