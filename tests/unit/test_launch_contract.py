"""Launch contract: launch-time configuration is declared once (spark_jobs/launch.py) and
never set by job code; EMR and the local launcher render the same declaration."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import List

import pytest

from spark_jobs.launch import (
    EMR_ICEBERG_JAR,
    ICEBERG,
    KAFKA_SOURCE,
    LAUNCH_ONLY_PREFIXES,
    MSK_IAM,
    HadoopCatalog,
    S3TablesCatalog,
    launch_properties,
    submit_parameters,
)
from spark_jobs.registry import BRONZE_STREAM, DQ_GATE, SILVER_BATCH, job_bundles

REPO = Path(__file__).resolve().parents[2]
#: The one module allowed to name launch-only properties: the declaration itself.
DECLARATION = "spark_jobs/launch.py"


def launch_settings_in(source: str, filename: str) -> List[str]:
    """``file:line key`` for every launch-only property named in ``source``.

    Any string literal counts, not only ``.config(...)`` calls: the defect this guards
    against built a dict of properties and applied it in a loop.
    """
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and node.value.startswith(LAUNCH_ONLY_PREFIXES):  # type: ignore[attr-defined]
            found.append(f"{filename}:{node.lineno} {node.value}")  # type: ignore[attr-defined]
    return found


def test_no_job_code_sets_launch_configuration() -> None:
    found = []
    for path in sorted((REPO / "spark_jobs").rglob("*.py")):
        name = str(path.relative_to(REPO))
        if name != DECLARATION:
            found += launch_settings_in(path.read_text(), name)
    assert found == []


@pytest.mark.parametrize(
    "snippet",
    [
        'SparkSession.builder.config("spark.jars", "/x.jar").getOrCreate()',
        'spark.conf.set("spark.sql.catalog.lake.warehouse", "s3://b")',
        'builder.config("spark.sql.extensions", "x")',
        'conf = {"spark.jars": ",".join(jars)}',
    ],
)
def test_the_scan_names_a_launch_setting_added_to_job_code(snippet: str) -> None:
    assert launch_settings_in(snippet, "spark_jobs/x.py") == [
        f"spark_jobs/x.py:1 {snippet.split(chr(34))[1]}"
    ]


def test_local_and_emr_launch_differ_only_in_the_named_catalog_adapter() -> None:
    emr = launch_properties(S3TablesCatalog("arn:aws:s3tables:eu-west-1:1:bucket/b", "eu-west-1"))
    local = launch_properties(HadoopCatalog("file:///w"))
    common = {k: v for k, v in emr.items() if not k.startswith("spark.sql.catalog.lake.")}
    assert {k: v for k, v in local.items() if not k.startswith("spark.sql.catalog.lake.")} == common
    assert emr["spark.sql.catalog.lake"] == local["spark.sql.catalog.lake"]
    assert (emr["spark.sql.catalog.lake.type"], local["spark.sql.catalog.lake.type"]) == ("rest", "hadoop")


def test_bundles_per_job_and_target() -> None:
    assert job_bundles(BRONZE_STREAM, dq_engine="spark", on_emr=True) == (KAFKA_SOURCE, MSK_IAM)
    # Locally: the Iceberg runtime from the manifest (EMR's image has its own), no IAM client.
    assert job_bundles(BRONZE_STREAM, dq_engine="spark", on_emr=False) == (ICEBERG, KAFKA_SOURCE)
    assert job_bundles(SILVER_BATCH, dq_engine="deequ", on_emr=True) == ()
    assert job_bundles(DQ_GATE, dq_engine="deequ", on_emr=True) == ("deequ",)
    assert job_bundles(DQ_GATE, dq_engine="spark", on_emr=False) == (ICEBERG,)


def test_submit_parameters_render_jars_and_sorted_confs() -> None:
    rendered = submit_parameters(
        {"b": "2", "a": "1"}, [EMR_ICEBERG_JAR, "s3://x/k.jar"], py_files=["s3://x/c.zip"]
    )
    assert rendered == (
        f"--py-files s3://x/c.zip --jars {EMR_ICEBERG_JAR},s3://x/k.jar --conf a=1 --conf b=2"
    )
    with pytest.raises(ValueError, match="whitespace"):
        submit_parameters({"a": "x y"}, [])


def test_the_local_launcher_renders_the_declaration_with_the_manifest_s_jars(tmp_path: Path) -> None:
    from local_runtime.jars import bundle_jars
    from local_runtime.submit import submit_args

    args = submit_args([BRONZE_STREAM], tmp_path / "warehouse").split()
    assert args[-1] == "pyspark-shell"
    confs = dict(a.split("=", 1) for a in args[1:-1] if "=" in a and not a.startswith("/"))
    for key, value in launch_properties(HadoopCatalog((tmp_path / "warehouse").resolve().as_uri())).items():
        assert confs[key] == value
    jars = args[args.index("--jars") + 1].split(",")
    assert jars == [str(j) for b in (ICEBERG, KAFKA_SOURCE) for j in bundle_jars(b)]
