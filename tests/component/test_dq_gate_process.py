"""Gate jobs as processes of their own: they exit, and a missing Deequ jar fails fast.

pydeequ's known pitfall: a Check with a Python lambda starts Py4J's callback server with
non-daemon threads, and the job process never exits after ``main`` returns. The gate's
``main`` releases the engine (shutting that server down) and stops Spark. These tests
run the real entry point under a timeout; one of them removes the release to show the
exit test catches the hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]
#: JVM start + table creation + one gate on an empty lake, on 2 shared cores.
START_TIMEOUT_S = 240
#: From "main returned" to process exit: Spark's shutdown hooks take a few seconds.
EXIT_TIMEOUT_S = 30


def _start(
    tmp_path: Path, *argv: str, env_extra: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / "out.log"
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, *argv], cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    return proc, out


def _wait_for(out: Path, marker: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if marker in out.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    proc.kill()
    pytest.fail(f"no {marker!r} from the gate process:\n{out.read_text(errors='replace')[-3000:]}")


def _gate_process(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen[bytes], Path]:
    gate = ["--layer", "bronze", "--engine", "deequ", "--env", "local", "--run-id", "exit-test"]
    return _start(
        tmp_path, "-m", "local_runtime.kit.dq_gate_process", str(tmp_path / "data"), *flags, "--", *gate
    )


def test_deequ_gate_job_exits_even_with_a_callback_server_running(tmp_path: Path) -> None:
    # Given a gate job whose process has pydeequ's callback server running
    proc, out = _gate_process(tmp_path, "--callback-server")
    _wait_for(out, "main returned 0", proc)

    # Then the process exits on its own, promptly, with the gate's exit code
    assert proc.wait(timeout=EXIT_TIMEOUT_S) == 0
    assert "dq gate bronze run exit-test: PASSED" in out.read_text(errors="replace")


def test_the_exit_test_catches_a_job_that_keeps_the_callback_server(tmp_path: Path) -> None:
    # Given the same job with the engine's release disabled
    proc, out = _gate_process(tmp_path, "--callback-server", "--no-release")
    _wait_for(out, "main returned 0", proc)

    # Then the process hangs after main returned (the bug the test above guards against)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=EXIT_TIMEOUT_S)
    proc.kill()
    proc.wait()


def test_deequ_gate_without_the_jar_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    from local_runtime.submit import SUBMIT_ENV, submit_args
    from spark_jobs.registry import DQ_GATE

    # Given the job entry point, launched as a `spark` environment's gate (no Deequ bundle)
    # but asked for the deequ engine
    launch = submit_args([DQ_GATE], tmp_path / "data" / "warehouse", dq_engine="spark")
    argv = ["-m", "local_runtime.submit", "spark_jobs.dq_gate", "--layer", "bronze", "--engine", "deequ"]
    argv += ["--env", "local", "--run-id", "no-jar", "--data-dir", str(tmp_path / "data")]
    proc, out = _start(tmp_path, *argv, env_extra={SUBMIT_ENV: launch})

    # Then it exits non-zero, naming the missing class, the jar and the fix
    code = proc.wait(timeout=START_TIMEOUT_S)
    text = out.read_text(errors="replace")
    assert code != 0
    assert "DeequUnavailableError: dq.engine=deequ but com.amazon.deequ.VerificationSuite is not on" in text
    assert "com.amazon.deequ:deequ:2.0.7-spark-3.5" in text and "make setup" in text
