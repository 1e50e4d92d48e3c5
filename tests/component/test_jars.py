"""Jar assembly: checksummed inputs, relocation that really applies, idempotent re-runs."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from local_runtime import jars
from local_runtime.jars import (
    ICEBERG_WHEEL,
    JACKSON_WHEEL,
    PROBE_CLASS,
    JarAssemblyError,
    ensure_jars,
    fetch_wheel,
    jar_contains,
    merge_jars,
)


@pytest.fixture
def seeded_cache(tmp_path: Path) -> Path:
    """A cache holding the two pinned wheels (copied from the project cache: no network)."""
    ensure_jars()  # the project cache, built by `make setup`
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for wheel in (ICEBERG_WHEEL, JACKSON_WHEEL):
        shutil.copy(jars.DEFAULT_CACHE / "wheels" / wheel.filename, wheels / wheel.filename)
    return tmp_path


def test_assembly_relocates_jackson_and_is_idempotent(seeded_cache: Path) -> None:
    runtime, relocated = ensure_jars(seeded_cache)
    assert jar_contains(relocated, PROBE_CLASS)
    with zipfile.ZipFile(relocated) as archive:
        names = archive.namelist()
    assert not [n for n in names if n.startswith("com/fasterxml/")], "unrelocated classes left behind"
    assert jar_contains(runtime, "org/apache/iceberg/spark/SparkCatalog.class")

    mtimes = (runtime.stat().st_mtime_ns, relocated.stat().st_mtime_ns)
    assert ensure_jars(seeded_cache) == [runtime, relocated]
    assert (runtime.stat().st_mtime_ns, relocated.stat().st_mtime_ns) == mtimes, "second run rebuilt"


def test_a_tampered_output_is_rebuilt(seeded_cache: Path) -> None:
    _, relocated = ensure_jars(seeded_cache)
    relocated.write_bytes(b"not a jar")
    _, rebuilt = ensure_jars(seeded_cache)
    assert jar_contains(rebuilt, PROBE_CLASS)


def test_a_wheel_with_the_wrong_checksum_is_refused_and_removed(seeded_cache: Path) -> None:
    wheel = seeded_cache / "wheels" / ICEBERG_WHEEL.filename
    wheel.write_bytes(b"tampered")
    with pytest.raises(JarAssemblyError, match="does not match the pinned"):
        fetch_wheel(ICEBERG_WHEEL, seeded_cache)
    assert not wheel.exists()


def test_merge_drops_module_info_manifests_and_duplicates(tmp_path: Path) -> None:
    def jar(name: str, entries: dict[str, bytes]) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            for entry, data in entries.items():
                archive.writestr(entry, data)
        return path

    first = jar("a.jar", {"META-INF/MANIFEST.MF": b"m", "module-info.class": b"x", "a/A.class": b"1"})
    second = jar("b.jar", {"META-INF/versions/11/b/B.class": b"v", "a/A.class": b"2", "b/B.class": b"3"})
    merged = merge_jars([first, second], tmp_path / "merged.jar")
    with zipfile.ZipFile(merged) as archive:
        assert sorted(archive.namelist()) == ["a/A.class", "b/B.class"]
        assert archive.read("a/A.class") == b"1"


def test_missing_jarjar_gives_an_actionable_error(tmp_path: Path) -> None:
    with pytest.raises(JarAssemblyError, match="apt-get install -y libjarjar-java"):
        jars.find_jarjar((tmp_path / "nope.jar",))
