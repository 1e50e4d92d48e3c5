"""Synthesize every AWS environment once per session (cdk-nag runs inside each synth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Tuple

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

import app as cdk_app

ENVS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Tuple[Template, dict, Path]]:
    """env -> (assertions Template, raw template dict, cloud assembly dir)."""
    out: Dict[str, Tuple[Template, dict, Path]] = {}
    for env in ENVS:
        outdir = tmp_path_factory.mktemp(f"cdk-{env}")
        app = App(context={"env": env, "alert_email": "ops@example.com"}, outdir=str(outdir))
        cdk_app.build_app(app)
        assembly = app.synth()  # raises if cdk-nag reports an unacknowledged finding
        stack = assembly.get_stack_by_name(f"WikiStream-{env}")
        raw = json.loads(Path(outdir, stack.template_file).read_text())
        out[env] = (Template.from_json(raw), raw, outdir)
    return out


@pytest.fixture(scope="session")
def dev(synthesized: Dict[str, Tuple[Template, dict, Path]]) -> Template:
    return synthesized["dev"][0]


@pytest.fixture(scope="session")
def dev_raw(synthesized: Dict[str, Tuple[Template, dict, Path]]) -> dict:
    return synthesized["dev"][1]


@pytest.fixture(scope="session")
def staging(synthesized: Dict[str, Tuple[Template, dict, Path]]) -> Template:
    return synthesized["staging"][0]


@pytest.fixture(scope="session")
def staging_raw(synthesized: Dict[str, Tuple[Template, dict, Path]]) -> dict:
    return synthesized["staging"][1]
