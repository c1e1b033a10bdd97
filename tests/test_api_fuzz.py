"""Every route driven from the app's OpenAPI schema (schemathesis), many examples per operation.

Valid and invalid generated input, all of schemathesis's checks, and the
store's consistency after each request. The gate runs the same with a
bounded, derandomized number (tests_blocking/anchors/test_api_fuzz.py).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from tests_blocking.anchors import api_fuzz

schema, app_settings = api_fuzz.build(max_examples=40, derandomize=False)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_route_from_schema(case):
    case.call_and_validate(checks=api_fuzz.ALL_CHECKS)
    api_fuzz.check_store(app_settings, case)
