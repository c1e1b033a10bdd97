"""The bench judges its figures against their goals, and docs/performance.md copies its tables."""

from __future__ import annotations

import json

import pytest
from tools import bench, readme_sections


def result(put_batch_vs_floor: float, messages_ratio: float) -> dict:
    return {
        "throughput": {"put_batch_vs_floor": put_batch_vs_floor},
        "scaling": {"list_messages_large_vs_small": messages_ratio, "list_events_large_vs_small": 1.0},
    }


def test_judge_compares_each_measured_figure_with_its_bound():
    verdicts = {v["figure"]: v for v in bench.judge(result(0.49, 2.0))}
    assert verdicts["throughput.put_batch_vs_floor"] == {
        "figure": "throughput.put_batch_vs_floor",
        "measured": 0.49,
        "goal": ">= 0.5",
        "met": False,
    }
    assert verdicts["scaling.list_messages_large_vs_small"]["met"] is True  # == the bound is met
    assert "commands.gate_overhead" not in verdicts  # --quick: not measured, not judged
    assert {v["figure"] for v in bench.judge(result(0.5, 2.01)) if not v["met"]} == {
        "scaling.list_messages_large_vs_small"
    }


@pytest.fixture
def canned(monkeypatch):
    """bench.main with the measurements replaced by fixed figures."""

    def use(put_batch_vs_floor: float):
        figures = result(put_batch_vs_floor, 1.2)
        monkeypatch.setattr(bench, "measure_throughput", lambda *a, **k: figures["throughput"])
        monkeypatch.setattr(bench, "measure_scaling", lambda *a, **k: figures["scaling"])
        monkeypatch.setattr(bench, "measure_sync_under_load", lambda *a, **k: {})
        monkeypatch.setattr(bench.service_bench, "measure", lambda *a, **k: {"variants": {}})
        monkeypatch.setattr(bench.bench_sql, "measure", lambda *a, **k: {"stores": {}})
        monkeypatch.setattr(bench, "render", lambda r: "| table |\n")

    return use


def test_a_missed_goal_fails_the_run_unless_report_only(canned, tmp_path, capsys):
    canned(0.3)
    assert bench.main(["--quick", "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "throughput.put_batch_vs_floor = 0.30 misses its goal >= 0.5" in captured.err
    assert "bench: goals met 2/3" in captured.out
    assert bench.main(["--quick", "--report-only", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert [g["met"] for g in saved["goals"]] == [False, True, True]
    canned(0.8)
    assert bench.main(["--quick", "--out", str(tmp_path)]) == 0


def test_the_gate_run_is_measured_as_tox_runs_it(tmp_path):
    """The bench's commands are tox.ini's, read from it: the pytest phase of blocking, the gate env's tests."""
    commands = bench.gate_commands(tmp_path)
    armed, folder, env = commands["gate_run_armed"]
    tox_phase = "-m coverage run -m pytest tests_blocking -p no:cacheprovider -rs -W error -n 2"
    assert armed[1:] == tox_phase.split()
    assert folder == bench.REPO and env["COVERAGE_CORE"] == "ctrace"
    assert commands["gate_run_disarmed"][0] == [*armed, "--gate=off"]
    own, folder, _ = commands["gate_own_tests"]
    assert own[1:4] == ["-m", "pytest", "tests"] and folder == bench.REPO / "gate"


def test_the_commands_alternate_and_the_own_tests_run_once(monkeypatch, tmp_path):
    """Warm-up by collection, then the armed and disarmed runs in alternating order each round, the
    gate's own tests once between the first two rounds; the overhead is the median of the ratios."""
    ran = []
    seconds = {"gate_run_armed": [80.0, 90.0, 85.0], "gate_run_disarmed": [70.0, 75.0, 85.0]}
    named = {tuple(cmd): name for name, (cmd, _, _) in bench.gate_commands(tmp_path).items()}

    def timed(command, cwd, env):
        if "--collect-only" in command:
            assert command[-3:] == ["-q", "-n", "0"] and command.count("-n") == 1
            ran.append("collect")
            return 1.0
        name = named[tuple(command)]
        ran.append(name)
        return seconds[name].pop(0) if name in seconds else 120.0

    monkeypatch.setattr(bench, "_timed", timed)
    measured = bench.measure_commands(3)
    armed, disarmed, own = "gate_run_armed", "gate_run_disarmed", "gate_own_tests"
    assert ran == ["collect"] * 3 + [armed, disarmed, own, disarmed, armed, armed, disarmed]
    assert measured["samples_s"][own] == [120.0]
    assert measured["gate_run_s"] == 85.0
    assert measured["gate_overhead"] == pytest.approx(80.0 / 70.0)  # the median of 1.14, 1.2, 1.0


PAGE = """# Performance

intro

<!-- bench:start -->

old table

<!-- bench:end -->

after
"""


def write_page(tmp_path):
    """A docs folder whose performance page holds the bench section."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / readme_sections.PAGES["bench"]).write_text(PAGE)
    return docs, docs / readme_sections.PAGES["bench"]


def test_the_bench_section_of_its_page_is_copied_from_the_reports(tmp_path):
    docs, page = write_page(tmp_path)
    (tmp_path / "reports" / "bench").mkdir(parents=True)
    (tmp_path / "reports" / "bench" / "bench.md").write_text("| figure | measured |\n|---|---|\n| a | 1 |\n")
    (tmp_path / "reports" / "bench" / "bench.json").write_text(
        json.dumps({"seconds": 12.4, "date": "2026-11-29"})
    )
    args = ["bench", "--docs", str(docs), "--reports", str(tmp_path / "reports")]
    assert readme_sections.main([*args, "--check"]) == 1
    assert page.read_text() == PAGE
    assert readme_sections.main(args) == 0
    text = page.read_text()
    assert "old table" not in text and text.endswith("<!-- bench:end -->\n\nafter\n")
    assert (
        "Latest run (2026-11-29, `tox -e bench`, 12 s):\n\n| figure | measured |\n|---|---|\n| a | 1 |\n"
        in text
    )
    assert readme_sections.main([*args, "--check"]) == 0


def test_a_page_without_markers_or_reports_is_an_error(tmp_path):
    docs, page = write_page(tmp_path)
    page.write_text("# no markers\n")
    assert readme_sections.main(["bench", "--docs", str(docs), "--reports", str(tmp_path)]) == 2
    page.write_text(PAGE)
    assert readme_sections.main(["bench", "--docs", str(docs), "--reports", str(tmp_path)]) == 2
    with pytest.raises(readme_sections.SectionError, match="exactly one"):
        readme_sections.replace_section(PAGE + PAGE, "bench", "x")
    assert (
        readme_sections.main(["bench", "--docs", str(tmp_path / "nowhere"), "--reports", str(tmp_path)]) == 2
    )


def test_the_service_section_links_its_picture_beside_the_page(tmp_path, monkeypatch):
    from tools import service_bench

    docs, page = write_page(tmp_path)
    page.write_text(PAGE + "\n<!-- service:start -->\n<!-- service:end -->\n")
    bench_reports = tmp_path / "reports" / "bench"
    bench_reports.mkdir(parents=True)
    (bench_reports / "service.json").write_text("{}")
    (bench_reports / "service.png").write_bytes(b"png")
    monkeypatch.setattr(service_bench, "render", lambda data: "| service table |")
    args = ["service", "--docs", str(docs), "--reports", str(tmp_path / "reports")]
    assert readme_sections.main([*args, "--check"]) == 1
    assert not (docs / readme_sections.PICTURE).exists()  # --check writes nothing
    assert readme_sections.main(args) == 0
    assert "| service table |\n![loop lag and latency, offloaded vs on the loop](service-under-load.png)" in (
        page.read_text()
    )
    assert (docs / "service-under-load.png").read_bytes() == b"png"
    assert readme_sections.main([*args, "--check"]) == 0
    (bench_reports / "service.png").write_bytes(b"a newer png")
    assert readme_sections.main([*args, "--check"]) == 1  # a stale picture is stale too


def test_the_real_pages_hold_each_section_once():
    for name, page in readme_sections.PAGES.items():
        text = (readme_sections.REPO / "docs" / page).read_text(encoding="utf-8")
        assert text.count(f"<!-- {name}:start -->") == 1 and text.count(f"<!-- {name}:end -->") == 1, name


def test_group_commit_ratios_are_judged_and_rendered():
    figures = {
        "put_vs_floor": 0.19,
        "thread_hop_vs_floor": 0.3,
        "put_batch_vs_floor": 0.6,
        "concurrent_puts_one_thread_vs_put_batch_fsync": 0.5,
        "concurrent_puts_64_threads_vs_put_batch_fsync": 0.29,
    }
    verdicts = {v["figure"]: v["met"] for v in bench.judge({"throughput": figures})}
    assert verdicts == {
        "throughput.put_vs_floor": False,
        "throughput.put_batch_vs_floor": True,
        "throughput.concurrent_puts_one_thread_vs_put_batch_fsync": True,
        "throughput.concurrent_puts_64_threads_vs_put_batch_fsync": False,
    }
    rates = {
        "put": 19,
        "put_floor": 100,
        "thread_hop": 30,
        "put_batch": 60,
        "put_batch_floor": 100,
        "put_batch_fsync": 1000,
        "concurrent_puts_one_thread_fsync": 500,
        "concurrent_puts_64_threads_fsync": 290,
    }
    result = {"machine": "m", "python": "3", "rounds": 5, "batch": 1000}
    table = bench.render({**result, "throughput": {**figures, "events_per_s": rates}})
    assert (
        "| 64 producers of single puts, one thread, fsync: events/s / put_batch(1000) | 0.50 (500 / 1000) | >= 0.5 |"
        in table
    )
    assert (
        "| 64 producers of single puts, a thread each, fsync: events/s / put_batch(1000) | 0.29 (290 / 1000) | >= 0.3 |"
        in table
    )
    assert "| put events/s / floor (fsync off on both) | 0.19 (19 / 100) | >= 0.2 |" in table
    assert "list_messages" not in table  # scaling was not measured: no row for it
    assert "syncfs" not in table  # a report made before the sync costs were measured
    assert "CPU, loop thread" not in table  # nor before the CPU time was measured
    cpu = {
        f"{figure}_{part}": value
        for figure, value in (
            ("put_batch_fsync", 1.0),
            ("concurrent_puts_one_thread_fsync", 2.0),
            ("concurrent_puts_64_threads_fsync", 3.0),
        )
        for part, value in (("process_cpu", value), ("loop_cpu", value / 2))
    }
    table = bench.render(
        {**result, "throughput": {**figures, "events_per_s": rates, "cpu_us_per_event": cpu}}
    )
    cpu_table = table[table.index("| per event, µs |") :]
    assert cpu_table.splitlines()[2:5] == [
        "| put_batch(1000), fsync | 1000.0 | 1.0 | 0.5 |",
        "| 64 producers of single puts, one thread, fsync | 2000.0 | 2.0 | 1.0 |",
        "| 64 producers of single puts, a thread each, fsync | 3448.3 | 3.0 | 1.5 |",
    ]
    sync = {"fsync_one_file": 0.25, "fsync_each_of_16_files": 4.0, "syncfs_16_files": 0.5}
    table = bench.render({**result, "throughput": {**figures, "events_per_s": rates, "sync_ms": sync}})
    assert (
        "| durable append to 16 files, ms: an fsync each / one syncfs (one file, one fsync: 0.25) | 8.0x (4.00 / 0.50) | - |"
        in table
    )


def test_only_measures_the_named_parts(monkeypatch, tmp_path):
    measured = []
    monkeypatch.setattr(bench, "measure_throughput", lambda *a, **k: measured.append("throughput") or {})
    monkeypatch.setattr(bench, "measure_scaling", lambda *a, **k: measured.append("scaling") or {})
    monkeypatch.setattr(bench, "render", lambda r: "| table |\n")
    assert bench.main(["--only", "throughput", "--report-only", "--out", str(tmp_path)]) == 0
    assert measured == ["throughput"]
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved["parts"] == ["throughput"] and "sql" not in saved
    with pytest.raises(SystemExit):
        bench.main(["--only", "throughput,nonsense", "--out", str(tmp_path)])


def test_the_page_names_the_parts_of_a_partial_run(tmp_path):
    docs, page = write_page(tmp_path)
    (tmp_path / "reports" / "bench").mkdir(parents=True)
    (tmp_path / "reports" / "bench" / "bench.md").write_text("| a |\n")
    (tmp_path / "reports" / "bench" / "bench.json").write_text(
        json.dumps({"seconds": 3, "date": "2026-11-30", "parts": ["throughput"]})
    )
    assert readme_sections.main(["bench", "--docs", str(docs), "--reports", str(tmp_path / "reports")]) == 0
    assert "Latest run (2026-11-30, `tox -e bench -- --only throughput`, 3 s)" in page.read_text()
