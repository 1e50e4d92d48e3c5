"""Resolve the JVM dependency manifest (``jvm/pom.xml``) into the local jar cache.

Every jar the project uses comes from that one Maven manifest, locally and on AWS:
``mvn validate`` copies each module's dependencies into ``.cache/jars/<bundle>/`` (the
bundle names are :data:`spark_jobs.launch.BUNDLES` plus ``kafka-broker``). The local
launcher puts bundles on the Spark JVM's classpath at start, the local broker runs from
``kafka-broker``, and ``cdk deploy`` uploads the EMR bundles from the same folders.

Idempotent and cached: a stamp records the sha256 of every POM and the resolved file
list; when both still match, nothing runs (no Maven, no network). ``make setup`` calls
``python -m local_runtime.jars``, which prints each bundle and its jars.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_DIR = REPO_ROOT / "jvm"
DEFAULT_CACHE = REPO_ROOT / ".cache" / "jars"
STAMP_NAME = "jars.stamp.json"
#: Bundles (manifest modules) the local runtime needs; ``msk-iam`` only matters on AWS but
#: is resolved too so ``cdk synth`` can ship it from the same cache.
ALL_BUNDLES = ("kafka-source", "msk-iam", "iceberg", "deequ", "kafka-broker")


class JarResolutionError(RuntimeError):
    """Resolving the JVM manifest failed; the message says how to fix it."""


def manifest_poms(manifest_dir: Path = MANIFEST_DIR) -> List[Path]:
    """The parent POM and every module POM, in a stable order."""
    return sorted(manifest_dir.rglob("pom.xml"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_digest(manifest_dir: Path = MANIFEST_DIR) -> str:
    """One digest over the manifest's POMs (names and contents)."""
    digest = hashlib.sha256()
    for pom in manifest_poms(manifest_dir):
        digest.update(str(pom.relative_to(manifest_dir)).encode())
        digest.update(_sha256(pom).encode())
    return digest.hexdigest()


def _listing(cache: Path) -> Dict[str, List[str]]:
    return {b: sorted(p.name for p in (cache / b).glob("*.jar")) for b in ALL_BUNDLES}


def _stamp_matches(cache: Path, manifest_dir: Path) -> bool:
    stamp = cache / STAMP_NAME
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    listing = _listing(cache)
    return (
        recorded.get("manifest") == manifest_digest(manifest_dir)
        and recorded.get("bundles") == listing
        and all(listing.values())
    )


def resolve(cache: Path = DEFAULT_CACHE, manifest_dir: Path = MANIFEST_DIR) -> Dict[str, List[Path]]:
    """Resolve the manifest into ``cache`` unless the stamp says it is current.

    Re-resolving clears the bundle folders first, so a jar dropped from the manifest does
    not linger on a classpath.
    """
    cache = cache.resolve()
    if not _stamp_matches(cache, manifest_dir):
        if shutil.which("mvn") is None:
            raise JarResolutionError("Maven (mvn) is not installed; install it (apt-get install -y maven)")
        for bundle in ALL_BUNDLES:
            shutil.rmtree(cache / bundle, ignore_errors=True)
        cache.mkdir(parents=True, exist_ok=True)
        cmd = ["mvn", "-q", "-B", "-f", str(manifest_dir / "pom.xml"), f"-Djars.dir={cache}", "validate"]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise JarResolutionError(
                f"resolving {manifest_dir / 'pom.xml'} failed ({result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-3000:]}"
            )
        listing = _listing(cache)
        empty = [b for b, names in listing.items() if not names]
        if empty:
            raise JarResolutionError(f"the manifest resolved no jars for bundle(s) {empty}")
        stamp = {"manifest": manifest_digest(manifest_dir), "bundles": listing}
        (cache / STAMP_NAME).write_text(json.dumps(stamp, indent=2, sort_keys=True))
    return {b: bundle_jars(b, cache) for b in ALL_BUNDLES}


def bundle_jars(bundle: str, cache: Path = DEFAULT_CACHE) -> List[Path]:
    """The resolved jars of one bundle; a clear error when set-up has not run."""
    if bundle not in ALL_BUNDLES:
        raise JarResolutionError(f"unknown jar bundle {bundle!r}; the manifest has {ALL_BUNDLES}")
    jars = sorted((cache / bundle).glob("*.jar"))
    if not jars:
        raise JarResolutionError(
            f"no jars in {cache / bundle}: run `make setup` (it resolves jvm/pom.xml with Maven)"
        )
    return [j.resolve() for j in jars]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Resolve (or verify) the JVM manifest and print every bundle's jars."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    try:
        for bundle, jars in resolve(args.cache).items():
            print(f"{bundle}: {len(jars)} jar(s) in {args.cache / bundle}")
    except JarResolutionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
