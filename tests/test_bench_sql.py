"""The bench's SQL and JSONL-durability figures (issue 24): judged against their goals per store,
rendered side by side."""

from __future__ import annotations

from tools import bench, bench_sql


def _sql_result() -> dict:
    rates = {
        "jsonl": {
            "put": 2000,
            "concurrent_puts_64_threads": 14000,
            "concurrent_puts_one_thread": 44000,
            "put_batch": 140000,
        },
        "sqlite": {
            "floor": 1800,
            "put": 900,
            "concurrent_puts_64_threads": 15000,
            "concurrent_puts_one_thread": 12000,
            "put_batch": 50000,
        },
    }
    cpu = {
        store: {f"{figure}_{part}": 10.0 for figure in figures for part in ("process_cpu", "loop_cpu")}
        for store, figures in rates.items()
    }
    ratios = {
        "sqlite": {
            "put_vs_floor": 0.5,
            "concurrent_puts_64_threads_vs_put_batch": 0.3,
            "concurrent_puts_one_thread_vs_put_batch": 0.24,
        }
    }
    scaling = {
        "sqlite": {
            "median_s": {z: {"list_messages": 0.001, "list_events": 0.001} for z in ("1000", "100000")},
            "list_messages_large_vs_small": 1.0,
            "list_events_large_vs_small": 1.0,
        }
    }
    return {
        "throughput": {"events_per_s": rates, "cpu_us_per_event": cpu, "ratios": ratios},
        "scaling": scaling,
        "writers": {"events_per_s": {"1": 300, "4": 600}, "four_vs_one": 1.9},
        "batch": 1000,
        "sizes": [1000, 100000],
    }


def test_the_sql_goals_are_judged_per_store():
    verdicts = {v["figure"]: v for v in bench.judge({"sql": _sql_result()})}
    assert {k: v["met"] for k, v in verdicts.items()} == {
        "sql.throughput.ratios.sqlite.put_vs_floor": True,
        "sql.throughput.ratios.sqlite.concurrent_puts_64_threads_vs_put_batch": True,
        "sql.throughput.ratios.sqlite.concurrent_puts_one_thread_vs_put_batch": False,
        "sql.writers.four_vs_one": False,
    }  # PostgreSQL was not measured: its figures are not judged
    assert verdicts["sql.throughput.ratios.sqlite.put_vs_floor"]["goal"] == ">= 0.5"
    assert verdicts["sql.writers.four_vs_one"]["goal"] == ">= 2"


def test_the_sql_table_puts_each_store_beside_the_others_with_its_goals_and_cpu():
    table = bench_sql.render(_sql_result())
    assert "| events/s | jsonl | sqlite |" in table
    assert "| floor: the raw driver's single autocommitted INSERT | - | 1800 |" in table
    assert "| 64 producers of single puts, a thread each | 14000 | 15000 |" in table
    assert "| put, one producer / floor | sqlite | 0.50 | >= 0.5 |" in table
    assert "| 64 producers, one thread / put_batch(1000) | sqlite | 0.24 | >= 0.25 |" in table
    assert "| jsonl: put, one producer | 500.0 | 10.0 | 10.0 |" in table
    assert "| sqlite: put, one producer | 1111.1 | 10.0 | 10.0 |" in table
    assert "| 4 / 1 (median of per-round ratios; goal >= 2) | 1.90 |" in table


def test_the_sync_table_names_the_load_and_the_ratio_the_decision_reads():
    figures = {"p50_ms": 1.0, "p99_ms": 4.0, "puts_per_s": 1000.0}
    sync = {
        "producers": 8,
        "seconds": 2.5,
        "stream_mb_s": 0.0,
        "median": {
            f"{m}_{load}": figures for m in ("syncfs", "fsync_per_file") for load in ("idle", "loaded")
        },
        "loaded_p99_syncfs_vs_fsync_per_file": 12.5,
    }
    rows = "\n".join(bench._sync_rows(sync))
    assert "another process writes, buffered, as fast as it can to the same file system" in rows
    assert "| one syncfs | loaded | 1.00 | 4.00 | 1000 |" in rows
    assert "| loaded p99: syncfs / fsync per file | | | 12.50 | |" in rows
    assert "40 MB/s" in "\n".join(bench._sync_rows({**sync, "stream_mb_s": 40.0}))
