#!/usr/bin/env python3
"""CDK app entry point: ``cdk synth -c env=dev|staging|prod [-c alert_email=...]``.

Builds the typed configuration once and passes it down; the stack is environment-agnostic
(account and region come from the deploying credentials via ``Aws.*`` tokens).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from aws_cdk import App

from stacks.nag import add_nag
from stacks.platform_stack import WikiStreamStack
from wikistream.config import PlatformConfig, load_config


def config_from_context(app: App) -> PlatformConfig:
    """``-c env=...`` (default dev), optional ``-c alert_email=...`` and ``-c config={...}``."""
    env = str(app.node.try_get_context("env") or "dev")
    overrides: Dict[str, Any] = dict(app.node.try_get_context("config") or {})
    email: Optional[str] = app.node.try_get_context("alert_email")
    if email:
        overrides["alert_email"] = str(email)
    return load_config(env, overrides)


def build_app(app: Optional[App] = None) -> App:
    """Compose the app (used by ``main`` and by the infrastructure tests)."""
    app = app or App()
    config = config_from_context(app)
    if config.is_local:
        raise SystemExit("env=local has no AWS infrastructure; use `make run`")
    watchdog = str(app.node.try_get_context("loop_watchdog") or "false").lower() == "true"
    WikiStreamStack(app, f"WikiStream-{config.env}", config=config, watchdog_enabled=watchdog)
    add_nag(app)
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
