"""Meta-tests for the project's rule table: each rule fires, and stays silent offloaded.

Each rule is armed alone (no other rule can fire first), scoped to the probes
module, and its probe is called on the loop: the error must name the rule's
primitive and the probe's frame. The same probe run with asyncio.to_thread, and
with loop.run_in_executor, must pass with no hit recorded.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests_blocking import gate
from tests_blocking.meta import probes

PROBE_MODULE = probes.__name__


def expected_primitive(rule) -> str:
    return f"{rule.event} (audit event)" if isinstance(rule, gate.Audit) else rule.target


def applies(rule) -> None:
    if sys.version_info[:2] < rule.min_version:
        pytest.skip(f"{rule.name} applies from Python {'.'.join(map(str, rule.min_version))}")
    if not rule.platform_has_it:
        pytest.skip(f"{sys.platform} has no {rule.name}")


@pytest.fixture
async def scene_for(tmp_path):
    scenes = []

    async def build(probe):
        scene = probes.Scene(tmp_path / f"scene{len(scenes)}")
        scenes.append(scene)
        if probe.prepare is not None:
            await asyncio.to_thread(probe.prepare, scene)
        return scene

    yield build
    for scene in scenes:
        await asyncio.to_thread(scene.cleanup)


def test_every_rule_has_a_probe_and_every_probe_a_rule():
    names = [rule.name for rule in gate.RULES]
    assert len(names) == len(set(names)), "duplicate rule names"
    assert sorted(set(names) - set(probes.PROBES)) == [], "rules without a probe"
    assert sorted(set(probes.PROBES) - set(names)) == [], "probes without a rule"


def test_every_rule_says_why_it_blocks():
    for rule in gate.RULES:
        assert rule.area and len(rule.reason) > 15, rule.name


@pytest.mark.parametrize("rule", gate.RULES, ids=lambda r: r.name)
async def test_rule_fires_on_the_loop(rule, scene_for):
    applies(rule)
    probe = probes.PROBES[rule.name]
    scene = await scene_for(probe)
    with gate.armed_gate(PROBE_MODULE, rules=[rule], blockbuster_defaults=False) as armed:
        with pytest.raises(gate.GateBlockingError) as info:
            probe.call(scene)
    error = info.value
    assert error.primitive == expected_primitive(rule)
    assert error.filename.endswith("probes.py") and error.function == probe.call.__name__
    assert armed.hits == [error]
    assert isinstance(error, gate.blockbuster.BlockingError)
    assert f"{error.primitive} from " in str(error) and f"in {probe.call.__name__}()" in str(error)


@pytest.mark.parametrize("rule", gate.RULES, ids=lambda r: r.name)
@pytest.mark.parametrize("offload", ["to_thread", "run_in_executor"])
async def test_rule_silent_when_offloaded(rule, offload, scene_for):
    applies(rule)
    probe = probes.PROBES[rule.name]
    scene = await scene_for(probe)
    with gate.armed_gate(PROBE_MODULE, rules=[rule], blockbuster_defaults=False) as armed:
        if offload == "to_thread":
            await asyncio.to_thread(probe.call, scene)
        else:
            await asyncio.get_running_loop().run_in_executor(None, probe.call, scene)
    assert armed.hits == []


@pytest.mark.parametrize("rule", gate.RULES, ids=lambda r: r.name)
async def test_rule_fires_under_the_full_gate(rule, scene_for):
    """With every rule armed, the probe still fails (some rule catches it first)."""
    applies(rule)
    probe = probes.PROBES[rule.name]
    scene = await scene_for(probe)
    with gate.strict_gate(PROBE_MODULE) as armed, pytest.raises(gate.GateBlockingError):
        probe.call(scene)
    assert armed.hits


@pytest.mark.parametrize("rule", gate.RULES, ids=lambda r: r.name)
def test_rule_silent_without_a_loop(rule, tmp_path):
    """Sync code with no running loop (a CLI, a worker thread) may block."""
    applies(rule)
    probe = probes.PROBES[rule.name]
    scene = probes.Scene(tmp_path)
    if probe.prepare is not None:
        probe.prepare(scene)
    try:
        with gate.armed_gate(PROBE_MODULE, rules=[rule], blockbuster_defaults=False) as armed:
            probe.call(scene)
        assert armed.hits == []
    finally:
        scene.cleanup()


def test_a_rule_that_cannot_be_installed_fails_closed():
    ghost = gate.Patch("files", "os.no_such_primitive", "a primitive this interpreter lacks")
    with pytest.raises(gate.GateSetupError, match=r"os\.no_such_primitive"):
        with gate.armed_gate(PROBE_MODULE, rules=[ghost], blockbuster_defaults=False):
            pass
    nowhere = gate.Patch("files", "no_such_module.read", "a module that does not exist")
    with pytest.raises(gate.GateSetupError, match="no importable module"):
        with gate.armed_gate(PROBE_MODULE, rules=[nowhere], blockbuster_defaults=False):
            pass


def test_an_unimportable_scanned_module_fails_closed():
    with pytest.raises(gate.GateSetupError, match="cannot be imported"):
        with gate.strict_gate("no_such_package_anywhere"):
            pass
    with pytest.raises(gate.GateSetupError, match="at least one module"):
        with gate.strict_gate([]):
            pass


@pytest.mark.parametrize("name", sorted(probes.SILENT))
async def test_no_false_positive(name, tmp_path):
    scene = probes.Scene(tmp_path)
    try:
        with gate.strict_gate(PROBE_MODULE) as armed:
            await probes.SILENT[name](scene)
        assert armed.hits == []
    finally:
        await asyncio.to_thread(scene.cleanup)


async def test_console_exemption_does_not_cover_disk_files(tmp_path):
    f = await asyncio.to_thread(open, tmp_path / "out.txt", "w", encoding="utf-8")
    try:
        with gate.strict_gate(PROBE_MODULE) as armed:
            probes.write_console_layers()  # stdout's buffer and stderr: allowed
            assert armed.hits == []
            with pytest.raises(gate.GateBlockingError) as info:
                probes.write_text_file(f)
        assert info.value.primitive == "io.TextIOWrapper.write"
    finally:
        await asyncio.to_thread(f.close)


def test_every_audit_rule_names_the_callables_that_raise_it():
    # The static inventory looks for these in source; an audit event alone has no name to call.
    for rule in gate.RULES:
        if isinstance(rule, gate.Audit):
            assert rule.raised_by, f"{rule.name} names no callable that raises it"
            for dotted in rule.raised_by:
                assert "." in dotted and dotted == dotted.strip(), (rule.name, dotted)
