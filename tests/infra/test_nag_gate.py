"""cdk-nag is a gate: a new, unacknowledged finding makes synth fail."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sns as sns

from stacks.nag import add_nag

pytestmark = pytest.mark.infra


def test_an_unacknowledged_finding_fails_synth(tmp_path) -> None:
    # Given an app with the same nag wiring and an unencrypted SNS topic (AwsSolutions-SNS2/3)
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Probe")
    sns.Topic(stack, "Plain")
    add_nag(app)
    # When it synthesizes, Then the validation plugin reports and synth fails
    with pytest.raises(Exception, match=r"(?i)validation"):
        app.synth()
