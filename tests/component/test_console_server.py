"""The console server on a data directory: the page, its charting library from the local
npm install, the JSON state, the port fallback and the offline snapshot."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

from local_runtime.console.server import CHART_JS, Console
from tests.unit.test_console_model import TEMPLATE


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


def _data_dir(tmp_path: Path) -> Path:
    (tmp_path / "metrics").mkdir()
    now = time.time()
    rows = [
        {"ts": now + 1 + i, "name": "ProducerEventsProduced", "value": 10, "dims": {"Env": "local"}}
        for i in range(3)
    ]
    # A half-written last line (a writer mid-append) is left for the next read.
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"ts": '
    (tmp_path / "metrics" / "metrics.ndjson").write_text(text)
    table = tmp_path / "warehouse" / "bronze" / "raw_events" / "metadata"
    table.mkdir(parents=True)
    (table / "version-hint.text").write_text("2")
    (table / "v2.metadata.json").write_text(
        json.dumps(
            {
                "current-snapshot-id": 7,
                "snapshots": [{"snapshot-id": 7, "timestamp-ms": 1, "summary": {"total-records": "42"}}],
            }
        )
    )
    (tmp_path / "template.json").write_text(json.dumps(TEMPLATE))
    return tmp_path


def test_console_serves_page_library_and_state(tmp_path: Path) -> None:
    data_dir = _data_dir(tmp_path)
    console = Console(data_dir, run_number=4, template_path=data_dir / "template.json", port=0).start()
    try:
        kind, page = _get(console.url)
        assert kind.startswith("text/html") and b'src="/vendor/chart.umd.js"' in page
        kind, library = _get(console.url + "vendor/chart.umd.js")
        assert library == CHART_JS.read_bytes() and len(library) > 100_000
        _, body = _get(console.url + "api/state")
        state = json.loads(body)
    finally:
        console.close()
    assert state["run"] == 4 and state["executions"] == [] and state["alerts"] == []
    widgets = state["dashboard"]["widgets"]
    assert [w["title"] for w in widgets] == ["Producer throughput", "DQ gate", "Executions"]
    produced = widgets[0]["lines"][0]["points"]
    assert sum(v for _, v in produced) == 30
    tables = {t["table"]: t for t in state["tables"]}
    assert tables["bronze.raw_events"]["rows"] == 42 and tables["silver.events"]["rows"] is None
    assert state["layers"]["bronze"] == 42


def test_a_taken_port_falls_back_to_a_free_one(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        console = Console(tmp_path, run_number=1, template_path=tmp_path / "none.json", port=port).start()
        try:
            assert console.url.startswith("http://127.0.0.1:") and f":{port}/" not in console.url
            _, body = _get(console.url + "api/state")
            assert json.loads(body)["dashboard"]["widgets"] == []
        finally:
            console.close()


def test_snapshot_inlines_the_state_and_loads_nothing_remote(tmp_path: Path) -> None:
    data_dir = _data_dir(tmp_path)
    console = Console(data_dir, run_number=2, template_path=data_dir / "template.json", port=0)
    console.set_done(True)
    page = console.write_snapshot(tmp_path / "console")
    html = page.read_text()
    assert 'src="state.js"' in html and 'src="chart.umd.js"' in html and "http" not in html
    state = (tmp_path / "console" / "state.js").read_text()
    assert state.startswith("window.CONSOLE_SNAPSHOT = ") and '"phase": "done: OK"' in state
    assert (tmp_path / "console" / "chart.umd.js").read_bytes() == CHART_JS.read_bytes()
