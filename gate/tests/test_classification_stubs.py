"""The classification is complete on macOS and Windows too, checked here from typeshed's stubs.

``test_classification.py`` enumerates the running interpreter, so on Linux it
sees only what Linux has: ``os.chflags``, ``select.kqueue``, ``nt``,
``msvcrt`` and the rest would first fail in the workflow's macOS and Windows
jobs. This test enumerates, for each of those systems and each supported
Python, the same modules from typeshed's stdlib stubs (``stubs.py`` says how
the stubs' shape is mapped onto the runtime enumeration) and fails on any name
the classification leaves without a verdict there, or gives two verdicts.
The runtime test stays the authority on each system; this is the check we can
run before a push.
"""

from __future__ import annotations

import pytest

from blockgate.classification import stubs

CASES = [(system, version) for system in stubs.SYSTEMS for version in stubs.VERSIONS]


@pytest.fixture(scope="module", params=CASES, ids=[f"{s}-{v[0]}.{v[1]}" for s, v in CASES])
def stub_census(request):
    system, version = request.param
    return stubs.census(version, system)


def test_every_stub_callable_is_classified(stub_census):
    unclassified = {m: c["unclassified"] for m, c in stub_census.items() if c["unclassified"]}
    assert unclassified == {}, "classify these in blockgate/classification/ (systems=... if only there)"


def test_no_stub_callable_gets_two_verdicts(stub_census):
    conflicts = {m: c["conflict"] for m, c in stub_census.items() if c["conflict"]}
    assert conflicts == {}


@pytest.mark.parametrize("system", stubs.SYSTEMS)
def test_the_stubs_know_the_system(system):
    """A wrong platform string would make typeshed_client take no branch: prove the stubs answer."""
    names = {f.name for f in stubs.public_callables("os", (3, 12), system)}
    assert {"darwin": "os.chflags", "win32": "os.startfile"}[system] in names
    assert ("nt.startfile" in {f.name for f in stubs.public_callables("nt", (3, 12), system)}) == (
        system == "win32"
    )
