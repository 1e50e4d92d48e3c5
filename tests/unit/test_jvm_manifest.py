"""The JVM manifest (jvm/pom.xml) agrees with what AWS runs and with what we say we run.

One disagreement check, fed the real files; a deliberately drifted input shows it fails.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Mapping

from wikistream.config import EMR_RELEASE_LABEL, load_config

REPO = Path(__file__).resolve().parents[2]
POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def pom_properties(pom: Path = REPO / "jvm" / "pom.xml") -> Dict[str, str]:
    root = ET.parse(pom).getroot()
    props = root.find("m:properties", POM_NS)
    assert props is not None
    return {child.tag.split("}", 1)[1]: (child.text or "").strip() for child in props}


def pinned(requirements: str, package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)", requirements, re.MULTILINE)
    assert match, f"{package} is not pinned"
    return match.group(1)


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def disagreements(
    props: Mapping[str, str], emr_release: str, msk_kafka_version: str, pyspark: str, docs: Mapping[str, str]
) -> List[str]:
    """Every way the manifest, the stacks' config, the Python pins and the docs disagree."""
    found = []
    if props["emr.release"] != emr_release:
        found.append(f"manifest emr.release {props['emr.release']} != config {emr_release}")
    if props["iceberg.version"] != props["emr.iceberg.version"]:
        found.append(f"iceberg.version {props['iceberg.version']} != EMR's {props['emr.iceberg.version']}")
    if minor(props["spark.version"]) != minor(props["emr.spark.version"]):
        found.append(
            f"spark.version {props['spark.version']} is not EMR's Spark line {props['emr.spark.version']}"
        )
    if pyspark != props["spark.version"]:
        found.append(f"pyspark=={pyspark} != manifest spark.version {props['spark.version']}")
    msk_line = msk_kafka_version.split(".x")[0]
    if minor(props["kafka.version"]) != msk_line:
        found.append(
            f"local broker kafka.version {props['kafka.version']} is not the MSK line {msk_kafka_version}"
        )
    for name, text in docs.items():
        for fact in (props["emr.release"], props["kafka.version"], props["spark.version"]):
            if fact not in text:
                found.append(f"{name} does not state {fact}")
    return found


def _real_inputs() -> Dict[str, object]:
    return {
        "props": pom_properties(),
        "emr_release": EMR_RELEASE_LABEL,
        "msk_kafka_version": load_config("prod").kafka.kafka_version,
        "pyspark": pinned((REPO / "requirements.txt").read_text(), "pyspark"),
        "docs": {name: (REPO / name).read_text() for name in ("README.md", "docs/DEPLOY.md")},
    }


def test_manifest_config_pins_and_docs_agree() -> None:
    assert disagreements(**_real_inputs()) == []  # type: ignore[arg-type]


def test_each_kind_of_drift_is_reported_by_name() -> None:
    inputs = _real_inputs()
    props = dict(inputs["props"])  # type: ignore[call-overload]
    assert any("emr.release" in d for d in disagreements(**{**inputs, "emr_release": "emr-7.9.0"}))  # type: ignore[arg-type]
    assert any("pyspark" in d for d in disagreements(**{**inputs, "pyspark": "3.5.9"}))  # type: ignore[arg-type]
    assert any(
        "MSK line" in d
        for d in disagreements(**{**inputs, "msk_kafka_version": "4.1.x.kraft"})  # type: ignore[arg-type]
    )
    drifted = {**props, "iceberg.version": "1.7.1"}
    assert any("iceberg.version" in d for d in disagreements(**{**inputs, "props": drifted}))  # type: ignore[arg-type]
    assert any(
        "README.md does not state" in d
        for d in disagreements(**{**inputs, "docs": {"README.md": "nothing"}})  # type: ignore[arg-type]
    )


def test_every_bundle_module_is_in_the_parent_and_resolves_into_its_own_folder() -> None:
    from local_runtime.jars import ALL_BUNDLES
    from spark_jobs.launch import DEEQU, EMR_SHIPPED_BUNDLES, ICEBERG, KAFKA_SOURCE, MSK_IAM

    root = ET.parse(REPO / "jvm" / "pom.xml").getroot()
    modules = [m.text for m in root.iterfind("m:modules/m:module", POM_NS)]
    assert sorted(modules) == sorted(ALL_BUNDLES)
    assert {KAFKA_SOURCE, MSK_IAM, ICEBERG, DEEQU} <= set(ALL_BUNDLES)
    assert set(EMR_SHIPPED_BUNDLES) <= set(ALL_BUNDLES)
    for module in modules:
        text = (REPO / "jvm" / str(module) / "pom.xml").read_text()
        assert f"<outputDirectory>${{jars.dir}}/{module}</outputDirectory>" in text
