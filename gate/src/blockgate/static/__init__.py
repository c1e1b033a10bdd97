"""The static half of the gate: every blocking call the event loop can reach, joined with what the gate ran.

The runtime gate proves only what its tests execute. The static half reads the
scanned packages' source (it never imports or runs them) and lists each call
to a blocking primitive that code running on the loop thread can reach:

* Entry points: every ``async def`` of the scanned packages, and every sync
  callable handed to the loop to run on its own thread (``LOOP_CALLBACKS`` of
  the offload model: ``call_soon``, ``call_later``, ``call_at``,
  ``add_done_callback``...).
* Reachability follows calls across the whole package: functions of any
  module (imports, aliases, relative imports), methods through ``self`` and
  ``cls`` (inherited ones too), methods of objects whose type is known
  (constructed, annotated, assigned in ``__init__``), constructors, static and
  class methods, ``__enter__``/``__exit__`` of sync ``with`` statements,
  property getters, ``__call__`` of called objects, nested functions, lambdas
  and ``functools.partial`` objects that are called, and decorated functions. Names and receiver types are resolved by astroid
  (chosen over jedi by measurement: see docs/static-half.md); ``walk`` only
  walks the structure and reads annotations astroid leaves aside.
* A callable handed to an offload (the offload model,
  ``blockgate.offloads``) is passed, not called, so nothing behind it
  is reachable; neither is an awaited call (a coroutine runs when its own
  ``async def`` does, and that is an entry point of its own).
* Primitives: the gate's rule table is the only list. blockbuster's default
  table plus ``blockgate.rules`` (patch targets; audit events through
  the callables that raise them). A call is a primitive only when it resolves
  to one: a package method called ``open`` or ``rename`` is that method.

Output: ``<out>/static-inventory.json`` (``{"candidates": [...]}``) and
``static-inventory.md``; the last line is
``static inventory: N blocking calls reachable from the loop``, or with
``--coverage`` (the gate env's data with per-test contexts)
``static inventory: N reachable from the loop, G ran under the gate, U never did``.
With ``--coverage`` the run fails (exit 1) on an unguarded candidate that the
accepted file (``--accepted``, ``[[unguarded]]``: ``blockgate.accepted``) does
not list with a reason, and on an entry of that file that matches no
unguarded candidate (stale).

The modules, in the order data flows: ``primitives`` (the rule table as
callables, with ``clients``: third-party sync clients, static only), ``walk``
(the packages parsed, their functions and calls, names resolved by
``resolvers``, overrides followed by ``overrides``), ``reach`` (what the loop
reaches), ``joined`` (with coverage), ``changes`` (``--changed-since``),
``report`` and ``cli``; ``hook`` is the pre-commit entry (changed files).

Usage: python -m blockgate.static [--root DIR] [--package NAME ...]
       [--coverage DATA] [--changed-since REV] [--accepted FILE] [--out DIR]
"""

from __future__ import annotations

from blockgate.static.primitives import PrimitiveTable, primitive_table
from blockgate.static.reach import Candidate, Result, scan

__all__ = ["Candidate", "PrimitiveTable", "Result", "primitive_table", "scan"]
