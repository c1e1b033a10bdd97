"""Anchor: random operation sequences on every store under the gate, against the reference model.

Bounded, derandomized and not shrunk, so a gate failure reproduces and ends
the run promptly; ``tests/`` runs many
more examples of the same machine.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests_blocking.anchors import store_machine


@pytest.mark.parametrize("kind", store_machine.STORE_PARAMS)
def test_store_follows_the_model_under_the_gate(kind):
    machine = store_machine.machine_for(kind)
    machine.TestCase.settings = settings(
        max_examples=12,
        stateful_step_count=20,
        derandomize=True,
        # No shrinking: a failure (a blocking call, a wrong answer) is reported
        # as found, in seconds; derandomized, it reproduces as is.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    machine.TestCase().runTest()
