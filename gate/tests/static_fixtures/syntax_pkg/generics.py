"""PEP 695 type parameters: Python 3.12 syntax, a SyntaxError on 3.10 and 3.11.

Nothing here blocks, so the file is silent wherever it parses; where it does
not, the inventory skips it, says why, and still reports ``current.py``.
"""


def newest[T](items: list[T]) -> T:
    return items[-1]


async def first[T](items: list[T]) -> T:
    return items[0]
