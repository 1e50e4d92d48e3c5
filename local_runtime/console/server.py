"""The console's HTTP server and the state it serves, live for the whole `make run`.

One JSON document (``/api/state``) holds everything the page shows; the page polls it
every second. The server is the standard library's ``ThreadingHTTPServer`` on
127.0.0.1 only. Its sources:

* executions: while the runner drives the state machine, :meth:`Console.watch` polls the
  moto interpreter (``ListExecutions`` + ``GetExecutionHistory``) from a thread of its
  own and keeps the last view once the machine is gone;
* alerts: a second SQS queue subscribed to every SNS topic of that mock, so the inbox
  holds what SNS delivered without taking messages from the runner's own queue;
* dashboard: the widget list of the synthesized template's dashboard, plotted from the
  metrics NDJSON that the producer, bronze stream and jobs append to;
* tables: the Iceberg metadata files of the local warehouse (no Spark, no locks).

At the end, :meth:`Console.write_snapshot` writes the same page with the final state
inlined (and the charting library beside it) so it opens from disk with no server.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, ContextManager, Optional

from local_runtime.console import model

REPO_ROOT = Path(__file__).resolve().parents[2]
STATIC = Path(__file__).resolve().parent / "static"
#: Chart.js, installed by `make setup` (`npm ci`, package.json): served, never copied in.
CHART_JS = REPO_ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.js"
DEFAULT_PORT = 8765
#: Seconds between two looks at the executions and alerts.
POLL_S = 1.0
#: Width of a dashboard time bucket: short, so a minutes-long run draws a curve.
BUCKET_S = 5.0
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}
log = logging.getLogger(__name__)


def _bind(port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """``port`` on 127.0.0.1, or a free port the system picks when it is taken (or 0)."""
    try:
        return ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:
        return ThreadingHTTPServer(("127.0.0.1", 0), handler)


class _MetricsTail:
    """Reads the metrics NDJSON incrementally; a half-written last line waits for the next read."""

    def __init__(self, path: Path, since: float) -> None:
        self.path = path
        self.since = since
        self.rows: list[dict[str, Any]] = []
        self._offset = 0

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return self.rows
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        for line in chunk[:end].splitlines():
            if line.strip():
                row = json.loads(line)
                if float(row["ts"]) >= self.since:
                    self.rows.append(row)
        return self.rows


class Console:
    """The live console of one run. Use as a context manager: serves until exit."""

    def __init__(
        self,
        data_dir: Path,
        *,
        run_number: int,
        template_path: Path,
        port: int = DEFAULT_PORT,
    ) -> None:
        self.data_dir = data_dir
        self.run_number = run_number
        self.template_path = template_path
        self.started = time.time()
        self._metrics = _MetricsTail(data_dir / "metrics" / "metrics.ndjson", self.started)
        self._lock = threading.Lock()
        self._widgets: list[model.DashboardWidget] = []
        self._template_mtime = 0.0
        self._phase: Callable[[], str] = lambda: "starting"
        self._result: Optional[bool] = None
        self._graph: Optional[dict[str, Any]] = None
        self._executions: list[dict[str, Any]] = []
        self._alerts: list[dict[str, Any]] = []
        self._watch_stop = threading.Event()
        self._watcher: Optional[threading.Thread] = None
        self._httpd = _bind(port, self._handler())
        self._serving = threading.Thread(target=self._httpd.serve_forever, name="console", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    def start(self) -> Console:
        """Serve from a background thread until :meth:`close`."""
        self._serving.start()
        return self

    def close(self) -> None:
        self.unwatch(last_look=False)  # the mock may be gone: no more calls to it
        self._httpd.shutdown()
        self._httpd.server_close()

    def follow(self, phase: Callable[[], str], started: float) -> Console:
        """Show the run's phase (read on every request) and its metrics from ``started`` on."""
        self._phase = phase
        self.started = self._metrics.since = started
        return self

    def set_done(self, ok: bool) -> None:
        """The run's verdict, shown in the status line from now on."""
        self._result = ok

    # -- the state machine ----------------------------------------------------------------
    def watch(self, machine: Any) -> None:
        """Follow ``machine`` (a :class:`local_runtime.machine.LocalStateMachine`) until
        :meth:`unwatch`: its definition, executions and SNS deliveries."""
        import boto3

        definition = json.loads(machine.sfn.describe_state_machine(stateMachineArn=machine.arn)["definition"])
        region = machine.sfn.meta.region_name
        sns = boto3.client("sns", region_name=region)
        sqs = boto3.client("sqs", region_name=region)
        inbox = sqs.create_queue(QueueName="console-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for topic in sns.list_topics()["Topics"]:
            sns.subscribe(TopicArn=topic["TopicArn"], Protocol="sqs", Endpoint=inbox_arn)
        with self._lock:
            self._graph = model.state_graph(definition)

        def look() -> None:
            now = time.time()
            views = [model.execution_view(e, machine.history(e), now) for e in machine.executions()]
            delivered = []
            while True:
                got = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
                if not got:
                    break
                for message in got:
                    body = json.loads(message["Body"])
                    delivered.append(
                        {
                            "subject": body.get("Subject"),
                            "time": body.get("Timestamp"),
                            "topic": body.get("TopicArn"),
                            "message": body.get("Message"),
                        }
                    )
                    sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
            with self._lock:
                self._executions = views
                self._alerts.extend(delivered)

        def loop() -> None:
            while not self._watch_stop.wait(POLL_S):
                try:
                    look()
                except Exception:  # a poll racing the interpreter: the next one will do
                    log.debug("console poll failed", exc_info=True)

        self._look = look
        self._watch_stop.clear()
        self._watcher = threading.Thread(target=loop, name="console-watch", daemon=True)
        self._watcher.start()

    def unwatch(self, last_look: bool = True) -> None:
        """Stop following the machine, after one last look while the mock is still alive
        (outside it, the clients would call AWS itself)."""
        if self._watcher is None:
            return
        self._watch_stop.set()
        self._watcher.join()
        self._watcher = None
        if last_look:
            self._look()

    @contextmanager
    def watching(self, machine: Any) -> Iterator[None]:
        """:meth:`watch` ``machine`` for the block; enter it inside the machine's mock."""
        self.watch(machine)
        try:
            yield
        finally:
            self.unwatch()

    # -- the document -----------------------------------------------------------------------
    def widgets(self) -> list[model.DashboardWidget]:
        """The synthesized dashboard's widgets, re-read whenever the template is rewritten."""
        try:
            mtime = self.template_path.stat().st_mtime
            if mtime != self._template_mtime:
                from local_runtime.asl import definition_for_local

                template = json.loads(self.template_path.read_text())
                self._widgets = model.dashboard_widgets(template)
                self._template_mtime = mtime
                # The graph before the first execution; watch() replaces it with the executed one.
                graph = model.state_graph(definition_for_local(template))
                with self._lock:
                    self._graph = self._graph or graph
        except (OSError, ValueError, KeyError):  # not synthesized yet, or being written
            pass
        return self._widgets

    def tables(self) -> list[dict[str, Any]]:
        from wikistream.catalogue import TABLES

        out = []
        for spec in TABLES:
            metadata_dir = self.data_dir / "warehouse" / spec.namespace / spec.name / "metadata"
            metadata = None
            hint = metadata_dir / "version-hint.text"
            if hint.exists():
                try:
                    version = hint.read_text().strip()
                    metadata = json.loads((metadata_dir / f"v{version}.metadata.json").read_text())
                except (OSError, ValueError):  # a commit in flight: show it on the next poll
                    metadata = None
            out.append(model.snapshot_view(spec.identifier, spec.namespace, metadata))
        return out

    def state(self) -> dict[str, Any]:
        now = time.time()
        widgets = self.widgets()
        with self._lock:
            executions = list(self._executions)
            alerts = list(self._alerts)
            graph = self._graph
        rows = self._metrics.read() + model.execution_metric_rows(executions)
        tables = self.tables()
        return {
            "run": self.run_number,
            "phase": self._phase()
            if self._result is None
            else ("done: OK" if self._result else "done: PROBLEMS"),
            "now": now,
            "started": self.started,
            "elapsed_s": round(now - self.started, 1),
            "executions": executions,
            "graph": graph,
            "dashboard": {
                "bucket_s": BUCKET_S,
                "widgets": model.dashboard_view(widgets, rows, self.started, BUCKET_S),
            },
            "alerts": alerts,
            "tables": tables,
            "layers": model.layer_totals(tables),
        }

    def write_snapshot(self, out_dir: Path) -> Path:
        """The page with the final state inlined, openable offline; returns its index.html."""
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("console.js", "console.css"):
            shutil.copyfile(STATIC / name, out_dir / name)
        if CHART_JS.exists():
            shutil.copyfile(CHART_JS, out_dir / "chart.umd.js")
        snapshot = json.dumps(self.state(), default=str).replace("</", "<\\/")
        (out_dir / "state.js").write_text(f"window.CONSOLE_SNAPSHOT = {snapshot};\n", encoding="utf-8")
        page = (
            (STATIC / "index.html")
            .read_text(encoding="utf-8")
            .replace('src="/vendor/chart.umd.js"', 'src="chart.umd.js"')
            .replace('src="/static/console.js"', 'src="state.js"></script><script src="console.js"')
            .replace('href="/static/console.css"', 'href="console.css"')
        )
        path = out_dir / "index.html"
        path.write_text(page, encoding="utf-8")
        return path

    # -- HTTP -------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        console = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, body: bytes, content_type: str, status: int = HTTPStatus.OK) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/api/state":
                    body = json.dumps(console.state(), default=str).encode()
                    self._send(body, "application/json")
                    return
                files = {
                    "/": STATIC / "index.html",
                    "/static/console.js": STATIC / "console.js",
                    "/static/console.css": STATIC / "console.css",
                    "/vendor/chart.umd.js": CHART_JS,
                }
                file = files.get(path)
                if file is None or not file.exists():
                    self._send(b"not found", "text/plain", HTTPStatus.NOT_FOUND)
                    return
                self._send(file.read_bytes(), _TYPES.get(file.suffix, "application/octet-stream"))

        return Handler


def watching(console: Optional[Console], machine: Any) -> ContextManager[None]:
    """``console.watching(machine)``, or nothing for a run without a console."""
    return console.watching(machine) if console is not None else nullcontext()
