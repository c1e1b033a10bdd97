"""Random operation sequences on every store, against the reference model (many examples)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from tests_blocking.anchors import store_machine


@pytest.mark.parametrize("kind", store_machine.STORE_PARAMS)
def test_store_follows_the_model(kind):
    machine = store_machine.machine_for(kind)
    machine.TestCase.settings = settings(
        # A SQL example creates its database and schema: fewer, so the suite stays in minutes.
        max_examples=60 if kind == "jsonl" else 25,
        stateful_step_count=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    machine.TestCase().runTest()
