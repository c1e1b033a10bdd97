"""What the gate raises: a blocking call found, one swallowed on the way, a gate that cannot be armed.

``GateBlockingError`` subclasses ``blockbuster.BlockingError``, so a suite
written against blockbuster (``pytest.raises(BlockingError)``) catches the
gate's errors unchanged. The errors pickle with their fields, because
pytest-xdist ships them from worker to controller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import blockbuster


class GateBlockingError(blockbuster.BlockingError):
    """A blocking call made on the event loop by scanned code."""

    def __init__(self, primitive: str, filename: str, lineno: int, function: str, detail: str = "") -> None:
        self.primitive = primitive
        self.filename = filename
        self.lineno = lineno
        self.function = function
        self.detail = detail
        message = f"{primitive} from {self.where}; offload it with asyncio.to_thread"
        super().__init__(f"{message}\n{detail}" if detail else message)

    @property
    def where(self) -> str:
        return f"{self.filename}:{self.lineno} in {self.function}()"

    def __reduce__(self) -> tuple[Any, ...]:  # survive pickling (pytest-xdist)
        return (type(self), (self.primitive, self.filename, self.lineno, self.function, self.detail))


class SwallowedBlockingError(GateBlockingError):
    """The gate raised, code other than the test caught the error, and the test carried on.

    The blocking call happened all the same; ``detail`` says which code caught
    each error (and, apart, the errors the test itself caught on purpose).
    """


@dataclass(frozen=True)
class Catch:
    """Where a raised ``GateBlockingError`` stopped: the frame that handled it.

    Read from the error's own traceback, whose outermost entry is the frame
    whose ``except`` (or ``with`` block, as in ``pytest.raises``) caught it.
    ``kind`` is ``"scanned"`` (scanned code swallowed it), ``"library"`` (the
    standard library or an installed package did) or ``"test"`` (anything
    else: the test, its fixtures, its helpers). Only ``"test"`` is expected.
    """

    kind: str
    where: str


class GateSetupError(RuntimeError):
    """The gate cannot be armed as configured: it refuses to run half-armed."""
