"""Anchor: every route driven from the OpenAPI schema by schemathesis, under the gate.

A bounded, derandomized number of examples per operation (so a gate failure
reproduces): the lifespan and the routes run on the ASGI app's event loop
while the detector is armed. ``tests/test_api_fuzz.py`` runs many more.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests_blocking.anchors import api_fuzz

schema, app_settings = api_fuzz.build(max_examples=5, derandomize=True)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_route_from_schema(case):
    case.call_and_validate(checks=api_fuzz.ALL_CHECKS)
    api_fuzz.check_store(app_settings, case)
