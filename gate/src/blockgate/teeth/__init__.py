"""Teeth: proof that the gate guards what it claims to, by breaking the code on purpose.

Two checks, each in memory (no file is written), each against the gate tests
a project names:

* ``offloads``: every offload site reverted to a direct call on the loop must
  turn a gate test red with the gate's blocking error, and the static half
  must see the reverted call (``blockgate.teeth.offloads``);
* ``coroutines``: a blocking call injected at the top of every scanned
  coroutine must end a gate run red, promptly (``blockgate.teeth.coroutines``).

``python -m blockgate.teeth --source DIR -- TESTS [PYTEST ARGS]`` runs both.
"""
