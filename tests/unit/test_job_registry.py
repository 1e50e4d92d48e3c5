"""The job registry is the one declaration of the pipeline's jobs: every job it names
exists, every reader takes names from it, and the local launcher can run the cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from spark_jobs.registry import (
    BRONZE_INGEST_STATE,
    BRONZE_STREAM,
    CYCLE,
    DQ_GATE,
    JOBS,
    cycle_jobs,
    cycle_steps,
    gate_ledger_name,
    job_for_entry_point,
)
from wikistream.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
#: Where a job's name must come from the registry, never be typed again.
READERS = (
    *sorted((ROOT / "stacks").rglob("*.py")),
    ROOT / "local_runtime" / "jobs.py",
    ROOT / "local_runtime" / "submit.py",
)


@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_registered_job_is_an_entry_point_with_a_main(name: str) -> None:
    tree = ast.parse((ROOT / "spark_jobs" / JOBS[name].entry_point).read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    guarded = [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    assert "main" in functions and guarded, f"spark_jobs/{name}.py needs main() under __main__"


def test_the_cycle_is_create_tables_then_each_layer_and_its_gate() -> None:
    assert [(s.state, s.job.name, s.args) for s in CYCLE] == [
        ("CreateTables", "create_tables", ()),
        ("BronzeGate", "dq_gate", ("--layer", "bronze")),
        ("Silver", "silver_batch", ()),
        ("SilverGate", "dq_gate", ("--layer", "silver")),
        ("Gold", "gold_batch", ()),
        ("GoldGate", "dq_gate", ("--layer", "gold")),
    ]


def test_per_cycle_bronze_adds_one_bounded_bronze_run_first() -> None:
    steps = cycle_steps("per_cycle", ("--bootstrap", "b:9098"))
    assert steps[0].state == BRONZE_INGEST_STATE and steps[0].job is BRONZE_STREAM
    assert steps[0].args == ("--bootstrap", "b:9098", "--available-now")
    assert steps[1:] == CYCLE == cycle_steps("streaming")
    with pytest.raises(ConfigError, match="bronze_mode"):
        cycle_steps("hourly")


def test_a_job_is_found_by_the_entry_point_emr_runs() -> None:
    assert job_for_entry_point("s3://artifacts/spark_jobs/dq_gate.py") is DQ_GATE
    assert gate_ledger_name("silver") == "dq_gate_silver"
    with pytest.raises(KeyError):
        job_for_entry_point("s3://artifacts/spark_jobs/not_a_job.py")


def test_the_local_job_server_can_run_every_job_of_the_cycle() -> None:
    from local_runtime.jobs import LOCAL_RUNNERS
    from local_runtime.submit import JOB_SERVER_JOBS

    assert set(LOCAL_RUNNERS) == set(cycle_jobs()) == set(JOB_SERVER_JOBS)


def _job_name_literals(path: Path, root: Path = ROOT) -> list[str]:
    names = set(JOBS)
    return [
        f"{path.relative_to(root)}:{node.lineno} {node.value!r}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names
    ]


def test_readers_take_job_names_from_the_registry() -> None:
    found = [hit for path in READERS for hit in _job_name_literals(path)]
    assert found == []


def test_the_scan_finds_a_job_name_typed_again(tmp_path: Path) -> None:
    # Given a construct that types a module name instead of reading the registry
    source = tmp_path / "construct.py"
    source.write_text('ENTRY = "gold_batch"\n')
    # Then the scan names it
    assert _job_name_literals(source, tmp_path) == ["construct.py:1 'gold_batch'"]
