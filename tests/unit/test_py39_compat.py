"""Code shipped to EMR Serverless (wikistream/, spark_jobs/) must run on its Python 3.9.

Ruff lints against 3.9 syntax; this test goes further where a 3.9 interpreter exists
(our build machines have one under pyenv): it byte-compiles every shipped file with 3.9
and imports the pure modules, catching 3.10+ syntax and stdlib APIs alike.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("wikistream", "spark_jobs")
PURE_MODULES = ("wikistream.config", "wikistream.events", "wikistream.catalogue", "wikistream.metrics",
                "wikistream.queries")  # fmt: skip


def _python39() -> str:
    # pyenv's shim answers `which` even when 3.9 is not selected, so ask it to run.
    candidates = [
        *map(str, sorted(Path("/root/.pyenv/versions").glob("3.9*/bin/python3.9"))),
        shutil.which("python3.9"),
    ]
    for candidate in candidates:
        if (
            candidate
            and subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False).returncode == 0
        ):
            return candidate
    pytest.skip("no Python 3.9 interpreter on this machine; 3.9 syntax is still enforced by ruff")


def test_every_shipped_file_compiles_on_python39() -> None:
    python39 = _python39()
    files = [str(p) for pkg in SHIPPED for p in sorted((ROOT / pkg).rglob("*.py"))]
    code = "import sys\nfor f in sys.argv[1:]:\n    compile(open(f, encoding='utf-8').read(), f, 'exec')"
    result = subprocess.run([python39, "-c", code, *files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_pure_shipped_modules_import_on_python39() -> None:
    python39 = _python39()
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)"
    result = subprocess.run(
        [python39, "-c", code, *PURE_MODULES],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
