"""The line between code that ships and code that only runs here, kept by a test.

Shipped packages (``wikistream``, ``spark_jobs``, ``producer``, ``lambdas``, ``stacks``,
and ``app.py``) import nothing local-only (``local_runtime``, ``bench``, ``tests``);
bench never imports tests; tests import bench only to test bench itself. Shared
scaffolding lives in ``local_runtime/kit``. Imports are read with ``ast``, inside
functions and ``TYPE_CHECKING`` blocks too, so a lazy import cannot slip through.
"""

from __future__ import annotations

from pathlib import Path

from tests.imports import LOCAL_ONLY, ROOT, SHIPPED, imported_modules, module_of, python_files

#: The tests that exist to test bench itself (its registry, the reliability harness and the
#: synthetic history its bronze and cycle benches build).
TESTS_OF_BENCH = (
    "tests/unit/test_bench_registry.py",
    "tests/component/test_reliability.py",
    "tests/component/test_bench_history.py",
)


def wrong_imports(files: list[Path], forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """``file:line module`` for every import of a ``forbidden`` top-level package."""
    return [
        f"{path.relative_to(root)}:{line} imports {name}"
        for path in files
        for line, name in imported_modules(path, root)
        if name.split(".")[0] in forbidden and name.split(".")[0] != module_of(path, root).split(".")[0]
    ]


def test_shipped_packages_import_nothing_local_only() -> None:
    assert wrong_imports([*python_files(*SHIPPED), ROOT / "app.py"], LOCAL_ONLY) == []


def test_bench_never_imports_tests() -> None:
    assert wrong_imports(python_files("bench"), ("tests",)) == []


def test_tests_import_bench_only_to_test_bench() -> None:
    files = [p for p in python_files("tests") if str(p.relative_to(ROOT)) not in TESTS_OF_BENCH]
    assert wrong_imports(files, ("bench",)) == []


def test_local_only_scaffolding_imports_no_tests() -> None:
    assert wrong_imports(python_files("local_runtime"), ("tests", "bench")) == []


def test_the_check_fails_on_a_shipped_module_importing_local_only_code(tmp_path: Path) -> None:
    # Given a shipped module with a lazy import of the generator, and one importing it at the top
    (tmp_path / "spark_jobs").mkdir()
    (tmp_path / "spark_jobs" / "job.py").write_text(
        "from wikistream.config import load_config\n"
        "def main():\n"
        "    from local_runtime.generator import generate\n"
    )
    (tmp_path / "spark_jobs" / "other.py").write_text("import bench.run\nfrom . import job\n")
    # When the check reads them
    found = wrong_imports(python_files("spark_jobs", root=tmp_path), LOCAL_ONLY, tmp_path)
    # Then both local-only imports are named, and nothing else
    assert found == [
        "spark_jobs/job.py:3 imports local_runtime.generator",
        "spark_jobs/job.py:3 imports local_runtime.generator.generate",
        "spark_jobs/other.py:1 imports bench.run",
    ]
