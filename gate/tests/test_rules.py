"""The rule table's own tests, generated from its entries.

Each rule is armed alone (no other rule can fire first), scoped to the rule
table's own package (where the probes are), and its firing probe is called on
the loop: the error must name the rule's primitive and a frame of the table.
The same probe run with asyncio.to_thread, and with loop.run_in_executor, must
pass with no hit recorded; under the full gate it must fail; with no loop it
must pass. A rule with ``nonblocking_if`` has a must-pass probe, which must
stay silent on the loop, armed alone and under the full gate.

One rule's tests: ``python -m pytest tests -k 'os.fsync'`` (in ``gate/``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import blockbuster
import pytest

import blockgate as gate
from blockgate import rules
from blockgate.rules import RULES, Audit, Patch, Scene
from tests import probes

PROBE_MODULE = rules.__name__  # the rule table: each entry's probes are its code
MUST_PASS = [rule for rule in RULES if rule.passes is not None]
SILENT_MODULE = probes.__name__


def by_name(rule) -> str:
    return rule.name


def expected_primitive(rule) -> str:
    return f"{rule.event} (audit event)" if isinstance(rule, Audit) else rule.target


def applies(rule) -> None:
    if sys.version_info[:2] < rule.min_version:
        pytest.skip(f"{rule.name} applies from Python {'.'.join(map(str, rule.min_version))}")
    if not rule.platform_has_it or not rule.applies_on(sys.version_info[:2], sys.platform):
        pytest.skip(f"{sys.platform} has no {rule.name}")


@pytest.fixture
async def scene_for(tmp_path):
    scenes = []

    async def build(probe):
        scene = Scene(tmp_path / f"scene{len(scenes)}")
        scenes.append(scene)
        if probe.prepare is not None:
            await asyncio.to_thread(probe.prepare, scene)
        return scene

    yield build
    for scene in scenes:
        await asyncio.to_thread(scene.cleanup)


def alone(rule):
    return gate.armed_gate(PROBE_MODULE, rules=[rule], blockbuster_defaults=False)


def test_every_rule_has_a_firing_probe_and_a_unique_name():
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names)), "duplicate rule names"
    assert [rule.name for rule in RULES if rule.fires is None] == [], "rules without a firing probe"


def test_every_nonblocking_form_has_a_must_pass_probe():
    """A rule that lets some calls through proves on the loop that it does (and nothing else)."""
    assert [r.name for r in RULES if r.nonblocking_if is not None and r.passes is None] == []
    assert [r.name for r in RULES if r.passes is not None and r.nonblocking_if is None] == []


def test_every_rule_says_why_it_blocks():
    for rule in RULES:
        assert rule.area and len(rule.reason) > 15, rule.name


@pytest.mark.parametrize("rule", RULES, ids=by_name)
async def test_rule_fires_on_the_loop(rule, scene_for):
    applies(rule)
    scene = await scene_for(rule.fires)
    with alone(rule) as armed:
        with pytest.raises(gate.GateBlockingError) as info:
            rule.fires.call(scene)
    error = info.value
    assert error.primitive == expected_primitive(rule)
    assert Path(error.filename).parent.name == "rules", error.where  # the probe's frame, not a library's
    assert armed.hits == [error]
    assert isinstance(error, blockbuster.BlockingError)
    assert f"{error.primitive} from " in str(error) and f"in {error.function}()" in str(error)


@pytest.mark.parametrize("rule", RULES, ids=by_name)
@pytest.mark.parametrize("offload", ["to_thread", "run_in_executor"])
async def test_rule_silent_when_offloaded(rule, offload, scene_for):
    applies(rule)
    scene = await scene_for(rule.fires)
    with alone(rule) as armed:
        if offload == "to_thread":
            await asyncio.to_thread(rule.fires.call, scene)
        else:
            await asyncio.get_running_loop().run_in_executor(None, rule.fires.call, scene)
    assert armed.hits == []


@pytest.mark.parametrize("rule", RULES, ids=by_name)
async def test_rule_fires_under_the_full_gate(rule, scene_for):
    """With every rule armed, the probe still fails (some rule catches it first)."""
    applies(rule)
    scene = await scene_for(rule.fires)
    with gate.strict_gate(PROBE_MODULE) as armed, pytest.raises(gate.GateBlockingError):
        rule.fires.call(scene)
    assert armed.hits


@pytest.mark.parametrize("rule", RULES, ids=by_name)
def test_rule_silent_without_a_loop(rule, tmp_path):
    """Sync code with no running loop (a CLI, a worker thread) may block."""
    applies(rule)
    scene = Scene(tmp_path)
    if rule.fires.prepare is not None:
        rule.fires.prepare(scene)
    try:
        with alone(rule) as armed:
            rule.fires.call(scene)
        assert armed.hits == []
    finally:
        scene.cleanup()


@pytest.mark.parametrize("rule", MUST_PASS, ids=by_name)
async def test_nonblocking_form_passes_on_the_loop(rule, scene_for):
    """The must-pass probe: the form ``nonblocking_if`` lets through, called on the loop."""
    applies(rule)
    scene = await scene_for(rule.passes)
    with alone(rule) as armed:
        rule.passes.call(scene)
    assert armed.hits == []


@pytest.mark.parametrize("rule", MUST_PASS, ids=by_name)
async def test_nonblocking_form_passes_under_the_full_gate(rule, scene_for):
    applies(rule)
    scene = await scene_for(rule.passes)
    with gate.strict_gate(PROBE_MODULE) as armed:
        rule.passes.call(scene)
    assert armed.hits == []


def test_a_rule_that_cannot_be_installed_fails_closed():
    ghost = Patch("files", "os.no_such_primitive", "a primitive this interpreter lacks")
    with pytest.raises(gate.GateSetupError, match=r"os\.no_such_primitive"):
        with gate.armed_gate(PROBE_MODULE, rules=[ghost], blockbuster_defaults=False):
            pass
    nowhere = Patch("files", "no_such_module.read", "a module that does not exist")
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
    scene = Scene(tmp_path)
    try:
        with gate.strict_gate(SILENT_MODULE) as armed:
            await probes.SILENT[name](scene)
        assert armed.hits == []
    finally:
        await asyncio.to_thread(scene.cleanup)


async def test_console_exemption_does_not_cover_disk_files(tmp_path):
    f = await asyncio.to_thread(open, tmp_path / "out.txt", "w", encoding="utf-8")
    try:
        with gate.strict_gate(SILENT_MODULE) as armed:
            probes.write_console_layers()  # stdout's buffer and stderr: allowed
            assert armed.hits == []
            with pytest.raises(gate.GateBlockingError) as info:
                probes.write_text_file(f)
        assert info.value.primitive == "io.TextIOWrapper.write"
    finally:
        await asyncio.to_thread(f.close)


def test_every_audit_rule_names_the_callables_that_raise_it():
    # The static inventory looks for these in source; an audit event alone has no name to call.
    for rule in RULES:
        if isinstance(rule, Audit):
            assert rule.raised_by, f"{rule.name} names no callable that raises it"
            for dotted in rule.raised_by:
                assert "." in dotted and dotted == dotted.strip(), (rule.name, dotted)
