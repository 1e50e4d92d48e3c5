"""What deploys ship, read from the synthesized cloud assembly: the EMR code archive
(``--py-files``) and the producer image hold what their code imports, and nothing
local-only.

The assets are the directories ``cdk synth`` stages (zipped or built from as they are),
so this is what ``cdk deploy`` would upload. The producer image is the staged Docker
build context as the Dockerfile's ``COPY`` lines place it.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Dict, List, Tuple

from spark_jobs.registry import JOBS
from tests.imports import LOCAL_ONLY, ROOT, import_closure

CODE_PREFIX = "code/"


def _files(directory: Path) -> List[str]:
    return sorted(
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def _asset_manifest(outdir: Path, env: str) -> dict:
    return json.loads((outdir / f"WikiStream-{env}.assets.json").read_text())


def code_archive(raw: dict, outdir: Path, env: str) -> Path:
    """The staged directory of the ``--py-files`` zip: the one bucket deployment to ``code/``."""
    deployments = [
        r["Properties"]
        for r in raw["Resources"].values()
        if r["Type"] == "Custom::CDKBucketDeployment"
        and r["Properties"].get("DestinationBucketKeyPrefix") == CODE_PREFIX
    ]
    assert len(deployments) == 1, "one deployment of the code archive"
    (key,) = deployments[0]["SourceObjectKeys"]
    asset = _asset_manifest(outdir, env)["files"][key.removesuffix(".zip")]
    return outdir / asset["source"]["path"]


def producer_image(outdir: Path, env: str) -> Tuple[Dict[str, str], Path]:
    """``{file in the image (under /app): file in the build context}`` and the context."""
    (image,) = _asset_manifest(outdir, env)["dockerImages"].values()
    context = outdir / image["source"]["directory"]
    placed: Dict[str, str] = {}
    for line in (context / image["source"]["dockerFile"]).read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        *sources, dest = shlex.split(line)[1:]
        for source in sources:
            src = context / source
            if src.is_dir():
                for rel in _files(src):
                    placed[str(Path(dest.removeprefix("/app/"), rel))] = str(Path(source, rel))
            else:
                placed[dest.removeprefix("/app/")] = source
    return placed, context


def _local_only(files: List[str]) -> List[str]:
    return [f for f in files if f.split("/")[0] in LOCAL_ONLY or f.endswith("generator.py")]


def test_the_emr_code_archive_holds_exactly_what_the_jobs_import(synthesized) -> None:
    for env, (_, raw, outdir) in synthesized.items():
        files = _files(code_archive(raw, outdir, env))
        needed = import_closure(job.module for job in JOBS.values())
        assert _local_only(files) == [], env
        assert files == sorted(str(p.relative_to(ROOT)) for p in needed.values()), env


def test_the_producer_image_holds_exactly_what_the_producer_imports(synthesized) -> None:
    for env, (_, _, outdir) in synthesized.items():
        placed, _ = producer_image(outdir, env)
        python = sorted(f for f in placed if f.endswith(".py"))
        needed = import_closure(["producer.main"])
        assert _local_only(python) == [], env
        assert python == sorted(str(p.relative_to(ROOT)) for p in needed.values()), env
        assert "requirements.txt" in placed, env
