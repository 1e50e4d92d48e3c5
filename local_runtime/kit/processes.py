"""Child processes of local runs, benches and tests: start one, wait for a condition, stop it.

`make run`, `make reliability` and the component tests all start the producer, bronze
or a broker as children of the repository's code; this is their one copy of how: the
repository on ``PYTHONPATH``, output appended to a log file, a job (launcher + JVM) in a
session of its own so that stopping it stops its JVM too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Producer settings that make a local producer react within a test's patience:
#: state persisted every 0.2 s, reconnects after 50 ms (at most 1 s), a 10 s flush.
FAST_PRODUCER = {
    "STATE_INTERVAL_S": "0.2",
    "BACKOFF_BASE_S": "0.05",
    "BACKOFF_CAP_S": "1",
    "FLUSH_TIMEOUT_S": "10",
}


def python_env(extra: Mapping[str, str] = {}, base: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the repository first on
    ``PYTHONPATH``, then ``extra``."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def spawn(
    argv: Sequence[str], log: Path, env: Mapping[str, str] = {}, *, own_session: bool = False
) -> subprocess.Popen[bytes]:
    """Start ``argv`` from the repository root, stdout and stderr appended to ``log``.

    ``env`` is added to this process's environment (see :func:`python_env`).
    ``own_session`` starts a process group, which :func:`stop_group` stops as a whole.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        return subprocess.Popen(
            list(argv),
            cwd=REPO_ROOT,
            env=python_env(env),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
        )


def producer_env(
    *, bootstrap: str, stream_url: str, state: Path, metrics: Path, stats: Path, **extra: str
) -> dict[str, str]:
    """The producer's environment (``producer/settings.py``) for a local run against the
    broker at ``bootstrap`` and the SSE server at ``stream_url``; ``extra`` overrides."""
    return {
        "WIKISTREAM_ENV": "local",
        "KAFKA_BOOTSTRAP": bootstrap,
        "STREAM_URL": stream_url,
        "STATE_URI": state.as_uri(),
        "METRICS": f"local:{metrics}",
        "STATS_PATH": str(stats),
        **extra,
    }


def producer_env_in(work: Path, *, bootstrap: str, stream_url: str, **extra: str) -> dict[str, str]:
    """:func:`producer_env` with state, metrics, stats and health file under ``work``."""
    return producer_env(
        bootstrap=bootstrap,
        stream_url=stream_url,
        state=work / "state.json",
        metrics=work / "metrics.ndjson",
        stats=work / "stats.json",
        **{"HEALTH_FILE": str(work / "health"), **extra},
    )


def spawn_producer(env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The producer (``python -m producer.main``, the ECS task's code) as a child."""
    return spawn([sys.executable, "-m", "producer.main"], log, env)


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    *,
    poll_s: float = 0.1,
    between: Optional[Callable[[], None]] = None,
) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout_s`` passed (False).

    ``between`` runs before each wait, e.g. to raise when a child it depends on died.
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        if between is not None:
            between()
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 30) -> int:
    """Send ``sig`` to one child and reap it; SIGKILL when it outlives ``timeout_s``."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout=timeout_s)


def stop_group(
    proc: subprocess.Popen[bytes], timeout_s: float = 25, sig: int = signal.SIGTERM
) -> Optional[int]:
    """Stop a child started with ``own_session`` and everything in its group (a job's
    launcher and JVM): ``sig``, then SIGKILL when it lingers past ``timeout_s``."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
    return proc.returncode


@contextmanager
def managed_process(
    name: str, argv: Sequence[str], log_dir: Path, env: Mapping[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own process group, logging to ``log_dir/<name>.log``; the group is
    stopped (SIGTERM, then SIGKILL) when the block exits."""
    proc = spawn(argv, log_dir / f"{name}.log", env, own_session=True)
    try:
        yield proc
    finally:
        stop_group(proc)
