"""End to end: `make run` at reduced size, through the synthesized state machine.

Runs the real local platform in a subprocess (its own JVMs): Apache Kafka broker, SSE
replay, producer, bronze stream (Spark's Kafka source), and the staging state machine from the CDK
template executed by moto with every job running in local Spark. Two clean cycles, then
an injected fault that the bronze gate must catch: alert, halt, gold untouched.

While it runs, headless Chromium watches the live console (``tests/e2e/console_browser``)
and the tests at the end assert what a person saw there; then it opens the offline
snapshot the run left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from local_runtime.kit.bronze import iceberg_table_arrow
from tests.e2e.console_browser import chromium, read_page

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.spark]
ROOT = Path(__file__).resolve().parents[2]
EVENTS = int(os.environ.get("E2E_EVENTS", "3000"))
#: Kept after the run: what the browser saw (the test artifact).
ARTIFACTS = ROOT / "test-artifacts"
CYCLE = [
    "Guard", "IsAnotherLoopRunning", "CreateTables", "BronzeGate", "Silver", "SilverGate",
    "Gold", "GoldGate", "RecordSuccess", "Wait",
]  # fmt: skip


@pytest.fixture(scope="module")
def console_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The run, watched in Chromium: its record, data dir, output and the page readings."""
    data_dir = tmp_path_factory.mktemp("e2e")
    cmd = [
        sys.executable, "-m", "local_runtime.run", "--events", str(EVENTS), "--cycles", "2",
        "--faults", "duplicate_event_id", "--wait-seconds", "2", "--data-dir", str(data_dir), "--timeout", "600",
        "--console-port", "0",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    url_seen = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("console: "):
                url_seen.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    readings: list[dict[str, Any]] = []
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        assert url_seen.wait(60), "no console URL printed:\n" + "".join(lines)
        url = next(x for x in lines if x.startswith("console: ")).split(" ", 1)[1].strip()
        with chromium() as browser:
            browser.get(url)
            # Read the page as it updates, until the run ends (the server goes with it).
            while proc.poll() is None:
                # A read that races a render fails: the next one reads again.
                with contextlib.suppress(Exception):
                    readings.append({"t": time.monotonic(), **read_page(browser)})
                live = bool(readings) and readings[-1]["status"].endswith("live")
                if live and any(s == "FAILED" for _, s in readings[-1]["executions"]):
                    browser.save_screenshot(str(ARTIFACTS / "console-e2e.png"))
                time.sleep(1.5)
            snapshot = data_dir / "console" / "index.html"
            offline: dict[str, Any] = {}
            if snapshot.exists():
                browser.get(snapshot.as_uri())
                time.sleep(1)
                offline = read_page(browser)
                browser.save_screenshot(str(ARTIFACTS / "console-snapshot.png"))
        proc.wait(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(timeout=10)
    output = "".join(lines)
    record_file = data_dir / "runs" / "latest.json"
    assert record_file.exists(), f"no run record; exit {proc.returncode}\n{output[-6000:]}"
    return {
        "record": json.loads(record_file.read_text()),
        "data_dir": data_dir,
        "output": output,
        "readings": readings,
        "offline": offline,
    }


@pytest.fixture(scope="module")
def local_run(console_run: dict[str, Any]) -> tuple[dict[str, Any], Path, str]:
    return console_run["record"], console_run["data_dir"], console_run["output"]


def test_two_clean_cycles_ran_every_state_in_order(local_run: tuple[dict[str, Any], Path, str]) -> None:
    record, _, output = local_run
    clean = [e for e in record["executions"] if e["completed"]]
    assert len(clean) >= 2, output[-3000:]
    for execution in clean[:2]:
        assert execution["states"][: len(CYCLE)] == CYCLE
    # The loop continued as new executions of the same machine (continue-as-new).
    assert clean[1]["states"][0] == "Guard" and clean[0]["states"][-2:] == ["NextCycle", "CycleComplete"]


def test_the_prewarm_ran_the_same_cycle_and_left_no_trace(
    local_run: tuple[dict[str, Any], Path, str],
) -> None:
    record, data_dir, output = local_run
    # The job server was warmed by one cycle of the same synthesized definition...
    assert record["prewarm"]["completed"] and record["prewarm"]["states"][: len(CYCLE)] == CYCLE
    assert "pre-warm done in" in output and "then one cycle of" in output
    # ...on a scratch lake that is gone, and whose runs never reached the real ledger.
    assert not (data_dir / "prewarm").exists()
    ledger = iceberg_table_arrow(data_dir / "warehouse", "ops.pipeline_runs", ("run_id",)).column("run_id")
    runs = set(ledger.to_pylist())
    assert "prewarm" not in runs and runs <= {e["name"] for e in record["executions"]}


def test_every_event_is_accounted_for(local_run: tuple[dict[str, Any], Path, str]) -> None:
    record, data_dir, _ = local_run
    manifest, producer, bronze = record["manifest"], record["producer"], record["bronze"]
    expected = Counter(manifest["expected"])
    dead_expected = sum(v for k, v in expected.items() if k.startswith("dead_letter:"))
    filtered_expected = sum(v for k, v in expected.items() if k.startswith("filtered:"))
    assert producer["produced"] + producer["dead_lettered"] + producer["filtered"] == manifest["total"]
    assert producer["filtered"] == filtered_expected and producer["dead_lettered"] == dead_expected
    # Independent of the run's own bookkeeping: read the tables with pyiceberg (no Spark).
    warehouse = data_dir / "warehouse"
    raw = iceberg_table_arrow(warehouse, "bronze.raw_events", ("event_id",)).column("event_id").to_pylist()
    dead = (
        iceberg_table_arrow(warehouse, "bronze.dead_letters", ("failed_rule",))
        .column("failed_rule")
        .to_pylist()
    )
    injected = 3  # duplicate_event_id appends 3 copies of existing rows (local_runtime/faults.py)
    assert len(raw) == manifest["valid_unique"] + injected
    assert len(set(raw)) == manifest["valid_unique"]
    assert len(dead) == dead_expected == bronze["dead_letters"]


def test_gold_totals_match_silver(local_run: tuple[dict[str, Any], Path, str]) -> None:
    _, data_dir, _ = local_run
    warehouse = data_dir / "warehouse"
    silver = iceberg_table_arrow(warehouse, "silver.events", ("event_id", "is_valid")).to_pylist()
    hourly = iceberg_table_arrow(warehouse, "gold.hourly_stats", ("events",)).column("events").to_pylist()
    assert len({r["event_id"] for r in silver}) == len(silver) > 0
    assert sum(hourly) == sum(1 for r in silver if r["is_valid"])


def test_freshness_covers_every_valid_event_and_is_causal(
    local_run: tuple[dict[str, Any], Path, str],
) -> None:
    record, data_dir, _ = local_run
    fresh = record["summary"]["freshness_s"]
    silver = iceberg_table_arrow(data_dir / "warehouse", "silver.events", ("is_valid",)).column("is_valid")
    # Every valid silver row reached gold in a clean cycle, so each one has a latency...
    assert fresh["events"] == sum(1 for v in silver.to_pylist() if v) > 0
    # ...measured from its send to a later hourly_stats commit of the same cycle.
    assert 0 < fresh["min"] <= fresh["p50"] <= fresh["p95"] <= fresh["max"] < 900
    # The steady-state subset (events sent after the first commit; none when the replay
    # finished first) is a part of the whole, with its p95 inside the whole's range.
    after = fresh["events_after_first_cycle"]
    assert 0 <= after <= fresh["events"]
    if after:
        assert fresh["min"] <= fresh["p95_after_first_cycle"] <= fresh["max"]
    else:
        assert fresh["p95_after_first_cycle"] is None


def test_the_faulty_cycle_alerted_halted_and_left_gold_untouched(
    local_run: tuple[dict[str, Any], Path, str],
) -> None:
    record, _, output = local_run
    failed = [e for e in record["executions"] if e["status"] == "FAILED"]
    assert len(failed) == 1 and not record["fault_missed"], output[-3000:]
    assert failed[0]["states"][-4:] == ["BronzeGateFailed", "PublishAlert", "RecordFailure", "CycleFailed"]
    assert "Silver" not in failed[0]["states"]
    # No cycle started after the failure: the loop halted.
    assert record["executions"][-1]["name"] == failed[0]["name"]
    (alert,) = record["alerts"]
    assert "BronzeGate" in alert["subject"]
    assert "uniqueness" in alert["message"] or "event_id" in alert["message"]
    assert record["gold_before"] == record["gold_after"] and all(record["gold_before"].values())


# --------------------------------------------------------------------------- the console
def _template_widget_titles(data_dir: Path) -> list[str]:
    """The metric widgets' titles, straight from the synthesized template's dashboard body."""
    template = json.loads((data_dir / "cdk.out" / "WikiStream-staging.template.json").read_text())
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    separator, parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"]
    body = separator.join(p if isinstance(p, str) else "token" for p in parts)
    return [w["properties"]["title"] for w in json.loads(body)["widgets"] if w["type"] == "metric"]


def test_console_url_is_printed_first(console_run: dict[str, Any]) -> None:
    output = console_run["output"]
    first = output.splitlines()[:3]
    assert any(re.fullmatch(r"console: http://127\.0\.0\.1:\d+/", x) for x in first), first


def test_console_showed_the_executions_growing_live(console_run: dict[str, Any]) -> None:
    readings = console_run["readings"]
    assert readings, "the browser never read the page"
    counts = [len(r["executions"]) for r in readings]
    # The page updated by itself while the cycles ran: the list grew, 1 at a time.
    assert counts[-1] >= 3 and len(set(counts)) >= 3 and counts == sorted(counts), counts
    last = readings[-1]
    statuses = [status for _, status in last["executions"]]
    assert statuses.count("SUCCEEDED") >= 2, last["executions"]
    # Names a person can read: the run, then the cycle number.
    names = sorted(name for name, _ in last["executions"])
    assert all(re.fullmatch(r"run\d{4}-cycle-\d", n) for n in names), names
    assert any(r["status"].startswith("run #") for r in readings)


def test_console_showed_the_failed_cycle_its_state_and_the_alert(console_run: dict[str, Any]) -> None:
    last = console_run["readings"][-1]
    (failed,) = [name for name, status in last["executions"] if status == "FAILED"]
    # The latest execution is the one shown: its failed gate, error and cause...
    assert "BronzeGate" in last["graph_failed"] and "CycleFailed" in last["graph_failed"]
    gate = next(f for f in last["failed"] if f.startswith("BronzeGate failed"))
    assert "States.TaskFailed" in gate and ("uniqueness" in gate or "event_id" in gate)
    # ...and the SNS alert in the inbox, with its actionable body.
    (subject, body) = next(a for a in last["alerts"] if "BronzeGate" in a[0])
    assert "failed" in subject and failed in body and ("uniqueness" in body or "event_id" in body)


def test_console_dashboard_series_filled_in(console_run: dict[str, Any]) -> None:
    last = console_run["readings"][-1]
    assert last["chart_library"] == "function" and last["canvases"] == len(last["widgets"])
    points = dict(last["widgets"])
    for title in (
        "Producer throughput",
        "Bronze records",
        "State machine executions",
        "Data freshness (min)",
    ):
        assert points[title] > 0, (title, points)
    # The throughput series had more than one point while the run went on: a curve.
    assert points["Producer throughput"] >= 2
    tables = dict(last["tables"])
    assert int(tables["bronze.raw_events"].replace(",", "")) > 0


def test_console_widgets_equal_the_synthesized_dashboard(console_run: dict[str, Any]) -> None:
    page = [title for title, _ in console_run["readings"][-1]["widgets"]]
    assert page == _template_widget_titles(console_run["data_dir"])
    assert len(page) >= 10


def test_console_snapshot_opens_offline_with_the_final_state(console_run: dict[str, Any]) -> None:
    offline, last = console_run["offline"], console_run["readings"][-1]
    assert offline, "no snapshot written"
    assert "snapshot" in offline["status"]
    assert sorted(offline["executions"]) == sorted(last["executions"])
    assert offline["chart_library"] == "function" and offline["alerts"] == last["alerts"]
