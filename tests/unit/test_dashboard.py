"""The local dashboard aggregates metrics like CloudWatch and renders every widget."""

from __future__ import annotations

from pathlib import Path

from local_runtime.dashboard import WIDGETS, bucketed, dq_counts, render_dashboard
from wikistream import metrics as m


def test_bucketed_sums_and_averages_per_bucket() -> None:
    rows = [
        {"ts": 100.0, "name": "A", "value": 1},
        {"ts": 101.0, "name": "A", "value": 3},
        {"ts": 106.0, "name": "A", "value": 5},
        {"ts": 101.0, "name": "B", "value": 100},
    ]
    assert bucketed(rows, "A", "Sum", 5) == [(100.0, 4.0), (105.0, 5.0)]
    assert bucketed(rows, "A", "Average", 5) == [(100.0, 2.0), (105.0, 5.0)]
    assert bucketed(rows, "C", "Sum", 5) == []


def test_dq_counts_by_layer_and_status() -> None:
    rows = [
        {"layer": "bronze", "status": "PASS"},
        {"layer": "bronze", "status": "FAIL"},
        {"layer": "bronze", "status": "PASS"},
        {"layer": "gold", "status": "PASS"},
    ]
    assert dq_counts(rows) == {"bronze": {"PASS": 2, "FAIL": 1}, "gold": {"PASS": 1, "FAIL": 0}}


def test_page_has_one_image_per_widget_plus_dq_and_cycles(tmp_path: Path) -> None:
    rows = [
        {"ts": 1000.0 + i, "name": m.PRODUCER_PRODUCED, "value": 10, "unit": "Count", "dims": {}}
        for i in range(20)
    ]
    path = render_dashboard(
        tmp_path,
        rows,
        [{"name": "cycle-1", "duration_s": 12.5}],
        [{"layer": "silver", "status": "PASS"}],
        {"sent": 20},
    )
    page = path.read_text()
    assert page.count("data:image/png;base64,") == len(WIDGETS) + 2
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    assert "Producer throughput" in page and "&quot;sent&quot;: 20" in page
