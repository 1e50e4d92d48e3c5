"""Regression tests for the first-deploy defects of issue 15 that live in the templates
(the producer's state listing, bronze's DLQ grant, the image platform, pre-initialized
worker size). The permission contract (test_permission_contract.py) covers the class."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

from stacks.constructs.emr import WorkerSize, worker_size
from stacks.constructs.producer_service import STATE_KEY
from wikistream.config import load_config

pytestmark = pytest.mark.infra


def _policy_statements(raw: dict, role_logical_prefix: str) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for res in raw["Resources"].values():
        if res["Type"] != "AWS::IAM::Policy":
            continue
        roles = [r.get("Ref", "") for r in res["Properties"].get("Roles", [])]
        if any(r.startswith(role_logical_prefix) for r in roles):
            out.extend(res["Properties"]["PolicyDocument"]["Statement"])
    return out


def _as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else [value]


def _topic_logical_ids(raw: dict) -> Dict[str, str]:
    return {
        res["Properties"]["TopicName"]: logical
        for logical, res in raw["Resources"].items()
        if res["Type"] == "AWS::MSK::Topic"
    }


def test_producer_may_list_exactly_its_state_key(synthesized) -> None:
    # Without s3:ListBucket S3 answers the first start's GET of the missing state object
    # with 403, not 404 (defect 1); the listing is scoped to the one key.
    raw = synthesized["dev"][1]
    listing = [
        s for s in _policy_statements(raw, "ProducerTaskTaskRole") if "s3:ListBucket" in _as_list(s["Action"])
    ]
    assert len(listing) == 1, listing
    assert listing[0]["Condition"] == {"StringEquals": {"s3:prefix": STATE_KEY}}
    assert listing[0]["Resource"]["Fn::GetAtt"][1] == "Arn"  # the bucket, not its objects


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_emr_role_reads_every_topic_bronze_subscribes_to(synthesized, env: str) -> None:
    raw = synthesized[env][1]
    topics = _topic_logical_ids(raw)
    wanted = {topics[name] for name in load_config(env).kafka.bronze_topics}
    for action in ("kafka-cluster:ReadData", "kafka-cluster:DescribeTopic"):
        granted = {
            r["Fn::GetAtt"][0]
            for s in _policy_statements(raw, "EmrExecutionRole")
            if action in _as_list(s["Action"])
            for r in _as_list(s["Resource"])
            if isinstance(r, dict) and "Fn::GetAtt" in r
        }
        assert wanted <= granted, f"{action}: {sorted(wanted - granted)} not granted"
    assert len(wanted) == 2  # the main topic and the DLQ


def test_producer_image_is_built_for_the_tasks_x86_64_platform(synthesized) -> None:
    raw, outdir = synthesized["dev"][1], synthesized["dev"][2]
    task = next(r for r in raw["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition")
    assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "X86_64"
    manifests = list(Path(outdir).glob("*.assets.json"))
    images = [img for m in manifests for img in json.loads(m.read_text()).get("dockerImages", {}).values()]
    assert images, "no Docker image asset synthesized"
    assert [img["source"].get("platform") for img in images] == ["linux/amd64"] * len(images)


@pytest.mark.parametrize(
    ("cores", "memory_gb", "expected"),
    [
        (1, 2, WorkerSize("1 vCPU", "3 GB")),  # 2 + 384 MB overhead
        (1, 1, WorkerSize("1 vCPU", "2 GB")),  # the 1 vCPU minimum
        (4, 27, WorkerSize("4 vCPU", "30 GB")),  # the EMR guide's example: 27 + 2.7
        (8, 30, WorkerSize("8 vCPU", "36 GB")),  # 33 GB, 4 GB steps
        (2, 4, WorkerSize("2 vCPU", "5 GB")),
    ],
)
def test_worker_size_adds_spark_memory_overhead(cores: int, memory_gb: int, expected: WorkerSize) -> None:
    assert worker_size(cores, memory_gb) == expected


@pytest.mark.parametrize(("cores", "memory_gb"), [(3, 4), (1, 8), (4, 30)])
def test_worker_size_rejects_what_no_worker_holds(cores: int, memory_gb: int) -> None:
    with pytest.raises(ValueError):
        worker_size(cores, memory_gb)


def test_prod_prewarmed_workers_are_the_size_the_jobs_ask_for(synthesized) -> None:
    raw = synthesized["prod"][1]
    text = json.dumps(raw)

    def conf(name: str) -> set:
        return set(re.findall(rf"spark\.{name}=(\w+)", text))

    # Every job run in the template asks for one driver and one executor size ...
    sizes = {role: (conf(f"{role}.cores"), conf(f"{role}.memory")) for role in ("driver", "executor")}
    assert all(len(c) == 1 and len(m) == 1 for c, m in sizes.values()), sizes
    app = next(r for r in raw["Resources"].values() if r["Type"] == "AWS::EMRServerless::Application")
    initial = {c["Key"]: c["Value"]["WorkerConfiguration"] for c in app["Properties"]["InitialCapacity"]}
    for key, role in (("Driver", "driver"), ("Executor", "executor")):
        (cores,), (memory,) = sizes[role]
        # ... and the pre-initialized worker is the one EMR Serverless picks for it.
        want = worker_size(int(cores), int(memory.rstrip("g")))
        assert initial[key] == {"Cpu": want.cpu, "Memory": want.memory, "Disk": want.disk}, key
    # The defaults, stated independently: 1 core / 2g -> 1 vCPU / 3 GB workers.
    assert initial["Executor"] == {"Cpu": "1 vCPU", "Memory": "3 GB", "Disk": "20 GB"}
