"""Every EMR job run in the synthesized templates is launched from the one declaration
(spark_jobs/launch.py) with the jars the deployment itself uploads from the manifest."""

from __future__ import annotations

import shlex
from typing import Dict, List, Tuple

from local_runtime.asl import definition_for_local, resolve
from local_runtime.jars import bundle_jars
from spark_jobs.launch import EMR_ICEBERG_JAR, S3TablesCatalog, launch_properties
from spark_jobs.registry import JOBS, job_bundles
from stacks.constructs.emr import emr_resource_properties
from wikistream.config import load_config


def parse_submit(params: str) -> Tuple[Dict[str, str], List[str], List[str]]:
    """(confs, jars, py-files) of a sparkSubmitParameters string."""
    words = shlex.split(params)
    confs: Dict[str, str] = {}
    jars: List[str] = []
    py_files: List[str] = []
    for flag, value in zip(words[::2], words[1::2]):
        if flag == "--conf":
            key, _, val = value.partition("=")
            confs[key] = val
        elif flag == "--jars":
            jars = value.split(",")
        elif flag == "--py-files":
            py_files = value.split(",")
        else:
            raise AssertionError(f"unexpected spark-submit option {flag}")
    return confs, jars, py_files


def _job_states(asl: dict) -> Dict[str, dict]:
    return {
        name: state
        for name, state in asl["States"].items()
        if "emr-serverless:startJobRun" in str(state.get("Resource", ""))
    }


def _expected(module: str, env: str, confs: Dict[str, str]) -> Tuple[Dict[str, str], List[str]]:
    catalog = S3TablesCatalog(confs["spark.sql.catalog.lake.warehouse"], "us-east-1")
    props = {**launch_properties(catalog), **emr_resource_properties(load_config(env).emr)}
    bundles = job_bundles(JOBS[module], dq_engine=load_config(env).dq.engine, on_emr=True)
    files = [f"{b}/{jar.name}" for b in bundles for jar in bundle_jars(b)]
    return props, files


def test_each_job_state_is_launched_from_the_declaration(synthesized) -> None:
    seen = set()
    for env in ("dev", "staging", "prod"):
        asl = definition_for_local(synthesized[env][1])
        for name, state in _job_states(asl).items():
            driver = state["Parameters"]["JobDriver"]["SparkSubmit"]
            module = driver["EntryPoint"].rsplit("/", 1)[-1].removesuffix(".py")
            confs, jars, py_files = parse_submit(driver["SparkSubmitParameters"])
            props, files = _expected(module, env, confs)
            assert confs == props, (env, name)
            assert confs["spark.sql.catalog.lake.warehouse"].startswith("local:"), "the table bucket ARN"
            assert jars[0] == EMR_ICEBERG_JAR
            assert [j.split("/jars/", 1)[1] for j in jars[1:]] == files, (env, name)
            assert len(py_files) == 1 and py_files[0].startswith("s3://")
            seen.add(module)
    assert "bronze_stream" in seen and "dq_gate" in seen


def test_restart_lambda_and_maintenance_use_the_same_declaration(staging_raw: dict) -> None:
    resources = staging_raw["Resources"]
    functions = [
        r for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and "SPARK_SUBMIT_PARAMETERS" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]  # fmt: skip
    assert len(functions) == 1
    params = resolve(functions[0]["Properties"]["Environment"]["Variables"]["SPARK_SUBMIT_PARAMETERS"])
    confs, jars, _ = parse_submit(str(params))
    props, files = _expected("bronze_stream", "staging", confs)
    assert confs == props
    assert [j.split("/jars/", 1)[1] for j in jars[1:]] == files
    assert any(f.startswith("msk-iam/aws-msk-iam-auth") for f in files)


def test_the_deployment_uploads_each_shipped_bundle_from_the_manifest(synthesized) -> None:
    for env in ("dev", "staging", "prod"):
        raw = synthesized[env][1]
        prefixes = sorted(
            r["Properties"].get("DestinationBucketKeyPrefix")
            for r in raw["Resources"].values()
            if r["Type"] == "Custom::CDKBucketDeployment"
            and str(r["Properties"].get("DestinationBucketKeyPrefix", "")).startswith("jars/")
        )
        wanted = ["jars/kafka-source/", "jars/msk-iam/"]
        if load_config(env).dq.engine == "deequ":
            wanted.append("jars/deequ/")
        assert prefixes == sorted(wanted), env


#: Longest value a reference in a Lambda environment can resolve to, by what it names.
_MAX_RESOLVED = (
    ("BootstrapBrokerString", 100 * 3),  # one ~90-character host:port per broker (prod: 3)
    ("Artifacts", 63),  # an S3 bucket name
    ("SourceObjectKeys", 80),  # the asset zip's key
    ("ApplicationId", 20),
)
#: Any other reference (an ARN, a table or log group name CDK generates) at most this long.
_MAX_OTHER = 128


def _worst_case_length(text: str) -> int:
    import re

    extra = 0
    for ref in re.findall(r"local:[A-Za-z0-9]+(?:\.[A-Za-z]+)?", text):
        extra += next((n for marker, n in _MAX_RESOLVED if marker in ref), _MAX_OTHER) - len(ref)
    return len(text) + extra


def test_restart_lambda_environment_fits_lambda_s_4_kb_limit(synthesized) -> None:
    # Lambda rejects a function whose environment exceeds 4 KB (keys + values). The launch
    # parameters carry every jar URI, so measure it with every reference at its longest.
    for env in ("staging", "prod"):
        for r in synthesized[env][1]["Resources"].values():
            if r["Type"] != "AWS::Lambda::Function":
                continue
            variables = r["Properties"].get("Environment", {}).get("Variables", {})
            size = sum(
                len(key) + _worst_case_length(value if isinstance(value, str) else str(resolve(value)))
                for key, value in variables.items()
            )
            assert size < 4096, (env, size)


def test_an_environment_choosing_deequ_ships_its_jar_and_is_warned_about_pydeequ(tmp_path) -> None:
    from aws_cdk import App
    from aws_cdk.assertions import Annotations, Match

    import app as cdk_app

    context = {"env": "staging", "alert_email": "ops@example.com", "config": {"dq": {"engine": "deequ"}}}
    app = cdk_app.build_app(App(context=context, outdir=str(tmp_path)))
    stack = app.node.find_child("WikiStream-staging")
    raw = app.synth().get_stack_by_name("WikiStream-staging").template
    gate = definition_for_local(raw)["States"]["BronzeGate"]["Parameters"]["JobDriver"]["SparkSubmit"]
    _, jars, _ = parse_submit(gate["SparkSubmitParameters"])
    assert [j.split("/jars/", 1)[1] for j in jars[1:]] == [f"deequ/{j.name}" for j in bundle_jars("deequ")]
    silver = definition_for_local(raw)["States"]["Silver"]["Parameters"]["JobDriver"]["SparkSubmit"]
    assert parse_submit(silver["SparkSubmitParameters"])[1] == [EMR_ICEBERG_JAR]
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("pydeequ 1.7 and pandas"))
