"""The local dashboard: a static HTML page with plots mirroring the CloudWatch widgets.

Inputs are plain data (the local metrics NDJSON rows, the cycle timings and the DQ
results), so the page can be rebuilt from any data directory:

    python -m local_runtime.dashboard --data-dir .wikistream
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from wikistream import metrics as m


@dataclass(frozen=True)
class Widget:
    """One plot: metric series drawn against time, as the CloudWatch widget shows them."""

    title: str
    series: tuple[str, ...]
    unit: str
    stat: str = "Sum"  # Sum per bucket, or Average


#: The same widgets as the CloudWatch dashboard (stacks/constructs/monitoring.py).
WIDGETS: tuple[Widget, ...] = (
    Widget(
        "Producer throughput", (m.PRODUCER_PRODUCED, m.PRODUCER_DEAD_LETTERED, m.PRODUCER_FILTERED), "events"
    ),
    Widget("Producer lag behind event time", (m.PRODUCER_LAG_SECONDS,), "seconds", "Average"),
    Widget(
        "Bronze records", (m.BRONZE_RECORDS_IN, m.BRONZE_RECORDS_PROCESSED, m.BRONZE_DEAD_LETTERED), "records"
    ),
    Widget("Bronze end-to-end lag", (m.BRONZE_LAG_P50, m.BRONZE_LAG_P95), "seconds", "Average"),
    Widget("Bronze batch duration", (m.BRONZE_BATCH_DURATION,), "seconds", "Average"),
    Widget("Data freshness", (m.DATA_FRESHNESS_MINUTES,), "minutes", "Average"),
)


def bucketed(
    rows: Iterable[Mapping[str, Any]], name: str, stat: str, bucket_s: float
) -> list[tuple[float, float]]:
    """Aggregate one metric into time buckets (pure; used by the plots and tested)."""
    buckets: dict[float, list[float]] = defaultdict(list)
    for row in rows:
        if row["name"] == name:
            buckets[(row["ts"] // bucket_s) * bucket_s].append(float(row["value"]))
    out = []
    for start in sorted(buckets):
        values = buckets[start]
        out.append((start, sum(values) if stat == "Sum" else sum(values) / len(values)))
    return out


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(size: tuple[float, float] = (6, 2.6), nrows: int = 1, ncols: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=size)


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def _draw_widget(
    ax: Any, widget: Widget, rows: Sequence[Mapping[str, Any]], t0: float, bucket_s: float
) -> None:
    drawn = False
    for name in widget.series:
        points = bucketed(rows, name, widget.stat, bucket_s)
        if points:
            ax.plot([p[0] - t0 for p in points], [p[1] for p in points], marker=".", label=name)
            drawn = True
    ax.set_title(widget.title)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel(widget.unit + (f" per {bucket_s:g}s" if widget.stat == "Sum" else ""))
    if drawn:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)


def _draw_bars(
    ax: Any, title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], unit: str
) -> None:
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(labels))], values, width=width, label=name)
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))])
    ax.set_xticklabels(labels, fontsize=7, rotation=20)
    ax.set_title(title)
    ax.set_ylabel(unit)
    if series and labels:
        ax.legend(fontsize=7)


def dq_counts(dq_results: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """``{layer: {"PASS": n, "FAIL": n}}`` from ops.dq_results rows."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"PASS": 0, "FAIL": 0})
    for row in dq_results:
        counts[str(row["layer"])][str(row["status"])] = (
            counts[str(row["layer"])].get(str(row["status"]), 0) + 1
        )
    return dict(counts)


def render_dashboard(
    out_dir: Path,
    metric_rows: Sequence[Mapping[str, Any]],
    cycles: Sequence[Mapping[str, Any]],
    dq_results: Sequence[Mapping[str, Any]],
    summary: Optional[Mapping[str, Any]] = None,
    bucket_s: float = 5.0,
) -> Path:
    """Write ``out_dir/index.html`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = min((r["ts"] for r in metric_rows), default=0.0)
    dq = dq_counts(dq_results)
    layers = sorted(dq)
    panels: list[tuple[str, Any]] = [
        (w.title, lambda ax, w=w: _draw_widget(ax, w, metric_rows, t0, bucket_s)) for w in WIDGETS
    ]
    dq_series = {"PASS": [dq[x]["PASS"] for x in layers], "FAIL": [dq[x]["FAIL"] for x in layers]}
    panels.append(
        ("DQ checks per layer", lambda ax: _draw_bars(ax, "DQ checks per layer", layers, dq_series, "checks"))
    )
    if cycles:
        labels = [str(c["name"])[:12] for c in cycles]
        seconds = {"seconds": [float(c["duration_s"]) for c in cycles]}
        panels.append(("Cycle durations", lambda ax: _draw_bars(ax, "Cycle durations", labels, seconds, "s")))
    images = []
    for title, draw in panels:
        fig, ax = _figure()
        draw(ax)
        images.append((title, _png(fig)))
        _close(fig)
    # One overview image of every panel (what the README shows).
    cols = 3
    rows_n = -(-len(panels) // cols)
    fig, axes = _figure((6 * cols, 3.2 * rows_n), rows_n, cols)
    flat = list(axes.flat) if hasattr(axes, "flat") else [axes]
    for ax, (_, draw) in zip(flat, panels):
        draw(ax)
    for ax in flat[len(panels) :]:
        ax.axis("off")
    fig.suptitle("WikiStream local dashboard")
    fig.tight_layout()
    fig.savefig(out_dir / "dashboard.png", dpi=80)
    _close(fig)
    cards = "\n".join(
        f'<figure><img alt="{html.escape(t)}" src="data:image/png;base64,{img}"/></figure>'
        for t, img in images
        if img
    )
    summary_html = f"<pre>{html.escape(json.dumps(summary, indent=2, default=str))}</pre>" if summary else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WikiStream local dashboard</title>
<style>body{{font-family:sans-serif;margin:1.5em;background:#fafafa}}
.grid{{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:12px}}
figure{{background:#fff;border:1px solid #ddd;margin:0;padding:6px}} pre{{background:#fff;padding:1em;border:1px solid #ddd}}</style>
</head><body><h1>WikiStream — local dashboard</h1>
<p>Mirrors the CloudWatch dashboard's widgets, from the local metrics in <code>metrics/metrics.ndjson</code>.</p>
<div class="grid">{cards}</div>
<h2>Run summary</h2>{summary_html}
</body></html>"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Rebuild the dashboard from a data directory's metrics and saved run summary."""
    parser = argparse.ArgumentParser(prog="dashboard")
    parser.add_argument("--data-dir", type=Path, default=Path(".wikistream"))
    args = parser.parse_args(argv)
    rows = m.read_local_metrics(args.data_dir / "metrics" / "metrics.ndjson")
    summary_file = args.data_dir / "runs" / "latest.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    path = render_dashboard(
        args.data_dir / "dashboard",
        rows,
        summary.get("cycles", []),
        summary.get("dq_results", []),
        summary.get("summary"),
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
