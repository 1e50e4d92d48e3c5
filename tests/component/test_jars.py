"""The JVM manifest resolver: idempotent without Maven, re-resolves on a change, and each
bundle holds what it is there for (checked inside the jars, not by file name)."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from local_runtime import jars
from local_runtime.jars import ALL_BUNDLES, MANIFEST_DIR, JarResolutionError, bundle_jars, resolve

#: A class each bundle must provide (what its consumer loads first).
PROBES = {
    "kafka-source": "org/apache/spark/sql/kafka010/KafkaSourceProvider.class",
    "msk-iam": "software/amazon/msk/auth/iam/IAMLoginModule.class",
    "iceberg": "org/apache/iceberg/spark/SparkCatalog.class",
    "deequ": "com/amazon/deequ/VerificationSuite.class",
    "kafka-broker": "kafka/Kafka.class",
}


def _contains(jar_paths: list[Path], member: str) -> bool:
    for jar in jar_paths:
        with zipfile.ZipFile(jar) as archive:
            if member in archive.namelist():
                return True
    return False


def test_each_bundle_provides_its_class_and_nothing_pyspark_already_ships() -> None:
    resolve()  # the project cache, from `make setup`
    for bundle in ALL_BUNDLES:
        assert _contains(bundle_jars(bundle), PROBES[bundle]), bundle
    names = [j.name for j in bundle_jars("kafka-source")]
    # Spark, Scala, Hadoop and compression codecs come with pyspark / EMR: never twice.
    assert not [
        n for n in names if n.startswith(("scala-", "spark-tags", "hadoop-", "snappy", "lz4", "zstd"))
    ]


def test_a_current_stamp_resolves_without_maven(monkeypatch: pytest.MonkeyPatch) -> None:
    resolve()

    def no_maven(*_a: Any, **_k: Any) -> None:
        raise AssertionError("Maven ran although the stamp is current")

    monkeypatch.setattr(subprocess, "run", no_maven)
    assert resolve()["kafka-source"] == bundle_jars("kafka-source")


def test_a_changed_manifest_or_a_lost_jar_resolves_again(tmp_path: Path) -> None:
    manifest = tmp_path / "jvm"
    shutil.copytree(MANIFEST_DIR, manifest)
    cache = tmp_path / "cache"
    first = resolve(cache, manifest)
    stamp = json.loads((cache / jars.STAMP_NAME).read_text())
    assert stamp["bundles"]["deequ"] == [p.name for p in first["deequ"]]

    # A jar removed by hand is noticed (the listing no longer matches) and restored.
    first["deequ"][0].unlink()
    assert [p.name for p in resolve(cache, manifest)["deequ"]] == stamp["bundles"]["deequ"]

    # A manifest change (a dependency dropped) re-resolves and leaves no stale jar behind.
    pom = manifest / "kafka-source" / "pom.xml"
    pom.write_text(
        pom.read_text().replace(
            "<exclusion><groupId>org.slf4j</groupId>",
            "<exclusion><groupId>org.apache.commons</groupId><artifactId>*</artifactId></exclusion>\n"
            "        <exclusion><groupId>org.slf4j</groupId>",
        )
    )
    names = [p.name for p in resolve(cache, manifest)["kafka-source"]]
    assert not [n for n in names if n.startswith("commons-pool2")]
    assert json.loads((cache / jars.STAMP_NAME).read_text())["manifest"] != stamp["manifest"]


def test_a_missing_bundle_says_to_run_setup(tmp_path: Path) -> None:
    with pytest.raises(JarResolutionError, match="make setup"):
        bundle_jars("deequ", tmp_path)
    with pytest.raises(JarResolutionError, match="unknown jar bundle"):
        bundle_jars("spark-core", tmp_path)
